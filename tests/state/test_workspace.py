"""The workspace's paths: each file aios keeps is named in one place, and found from any subfolder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import orchestrator
from orchestrator.errors import AiosError
from orchestrator.sandbox.git import GitError
from orchestrator.state.workspace import Workspace

ROOT = Path("/repo")
TID = "TASK_DEV_0001"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (lambda ws: ws.project_file, "state/project.yaml"),
        (lambda ws: ws.index_file, "state/tasks.yaml"),
        (lambda ws: ws.task_file(TID), f"state/tasks/{TID}.yaml"),
        (lambda ws: ws.agents_file, "state/agents.yaml"),
        (lambda ws: ws.sessions_file, "state/sessions.yaml"),
        (lambda ws: ws.state_lock, "state/.lock"),
        (lambda ws: ws.journal_file, "state/.journal"),
        (lambda ws: ws.checkpoints_db, "state/checkpoints.sqlite"),
        (lambda ws: ws.run_lock(TID), f"state/.run-{TID}.lock"),
        (lambda ws: ws.inbox_dir, "tasks/inbox"),
        (lambda ws: ws.audit_file(TID), f"ops/audit/{TID}.md"),
        (lambda ws: ws.queue_locks_file, "ops/freeze/queue-locks.md"),
        (lambda ws: ws.reviews_dir(TID), f"ops/reviews/{TID}"),
        (lambda ws: ws.usage_file(TID), f"ops/reviews/{TID}/usage.json"),
        (lambda ws: ws.secret_hashes_file(TID), f"ops/reviews/{TID}/secret-hashes.json"),
        (lambda ws: ws.worktree(TID), f".aios/worktrees/{TID}"),
    ],
)
def test_each_path_sits_where_the_operating_model_puts_it(path, expected: str) -> None:
    ws = Workspace(ROOT)
    assert ws.rel(path(ws)) == expected


def test_a_task_id_that_could_escape_its_folder_gets_no_worktree() -> None:
    with pytest.raises(GitError, match="bad task id"):
        Workspace(ROOT).worktree("../x")


def test_rel_leaves_a_path_outside_the_workspace_whole() -> None:
    assert Workspace(ROOT).rel(Path("/elsewhere/f.txt")) == "/elsewhere/f.txt"


def test_find_walks_up_from_a_subfolder_unless_told_the_exact_folder(ws: Workspace) -> None:
    sub = ws.root / "src" / "pkg"
    sub.mkdir(parents=True)
    assert Workspace.find(sub) == ws
    with pytest.raises(AiosError, match="no aios workspace at") as caught:
        Workspace.find(sub, explicit=True)
    assert "--root" in (caught.value.fix or "")


#: File and folder names only ``workspace.py`` may spell (``git.py`` lays out the worktrees).
NAMES = {
    "reviews": {"state/workspace.py"},
    "checkpoints.sqlite": {"state/workspace.py"},
    ".run-": {"state/workspace.py"},
    "usage.json": {"state/workspace.py"},
    "secret-hashes.json": {"state/workspace.py"},
    "queue-locks.md": {"state/workspace.py"},
    "worktrees": {"sandbox/git.py"},
}


def _path_parts_in_code(path: Path) -> set[str]:
    """The ``/``-separated parts of the string constants in ``path``'s code.

    Bare string statements (docstrings, attribute docstrings) may describe the layout: left out.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = {
        id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    return {
        part
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
        for part in node.value.split("/")
    }


def test_each_workspace_path_is_spelled_in_one_module_only() -> None:
    package = Path(orchestrator.__file__).parent
    spelled: dict[str, set[str]] = {name: set() for name in NAMES}
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] == "data":
            continue  # shipped data (the eval corpus's sample changes), not aios's code
        parts = _path_parts_in_code(path)
        for name in NAMES:
            if name in parts:
                spelled[name].add(str(path.relative_to(package)))
    assert spelled == NAMES
