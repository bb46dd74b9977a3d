"""The package's layers: no import circle, and dependencies point inward and down.

Read from the source with ``ast``, so a violation is caught without importing anything:

    shells (cli) → governance, workflow → review → state, llm, sandbox

Edges are the imports Python runs: those at module level (``if TYPE_CHECKING:`` blocks left out,
since they never run) and, for the circle check, those inside functions as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import orchestrator

PACKAGE = Path(orchestrator.__file__).resolve().parent

#: layer -> layers it must not import (directly, at module level).
FORBIDDEN: dict[str, set[str]] = {
    "state": {"workflow", "review", "llm", "cli", "governance", "mcp", "web"},
    "sandbox": {"state", "workflow", "review", "cli", "governance", "llm", "mcp", "web"},
    "review": {"workflow", "cli", "governance", "mcp", "web"},
    "llm": {"state", "workflow", "review", "cli", "governance", "sandbox", "mcp", "web"},
    "governance": {"workflow", "review", "cli", "mcp", "web"},
    "workflow": {"cli", "mcp", "web"},
    "mcp": {"cli", "web"},  # a shell beside the CLI: both call the services, neither the other
    "web": {"cli", "mcp"},  # `aios serve`'s shell, beside the CLI and the MCP server
}
#: Terminal output libraries: only the shells print.
SHELL_ONLY = {"typer", "rich", "click"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "data":
            continue  # shipped data (the eval corpus's sample changes), not aios's code
        parts = ["orchestrator", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names ``node`` imports; ``from pkg import sub`` names the submodule ``pkg.sub``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package.pop()
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def imports(module: str, *, lazy: bool) -> set[str]:
    """Every name ``module`` imports at module level (and inside functions when ``lazy``)."""
    found: list[str] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.extend(_imported(module, node))
                continue
            inner = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if inner and not lazy:
                continue
            children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
            visit(children)

    visit(ast.parse(MODULES[module].read_text(encoding="utf-8")).body)
    return set(found)


def graph(*, lazy: bool) -> dict[str, set[str]]:
    """module -> the orchestrator modules it imports."""
    return {m: {d for d in imports(m, lazy=lazy) if d in MODULES and d != m} for m in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles in ``edges`` (strongly connected groups of two or more), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in sorted(edges[node]):
            if dep not in index:
                connect(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            if group:
                found.append(sorted([node, *group]))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_sees_the_imports_it_should() -> None:
    # The checks below are only as good as the graph: it must see known edges, and skip what never runs.
    edges = graph(lazy=False)
    assert "orchestrator.state.records" in edges["orchestrator.state.store"]
    assert "orchestrator.state.tasks" in edges["orchestrator.governance.actions"]
    assert "orchestrator.review.report" not in edges["orchestrator.workflow.runs"]  # only inside a function
    assert "orchestrator.state.workspace" in graph(lazy=True)["orchestrator.cli._context"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("lazy", [False, True], ids=["module-level", "with-function-imports"])
def test_no_import_circle(lazy: bool) -> None:
    assert cycles(graph(lazy=lazy)) == []


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = [
        f"{module} imports {dep}"
        for module, deps in graph(lazy=False).items()
        for dep in sorted(deps)
        if layer(dep) in FORBIDDEN.get(layer(module), set())
    ]
    assert wrong == []


def test_only_the_shells_import_terminal_libraries_at_module_level() -> None:
    wrong = [
        f"{module} imports {name}"
        for module in MODULES
        if layer(module) != "cli"
        for name in sorted(imports(module, lazy=False))
        if name.split(".")[0] in SHELL_ONLY
    ]
    assert wrong == []
