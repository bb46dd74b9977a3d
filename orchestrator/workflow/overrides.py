"""The workspace's own ``personas/``, ``prompts/`` and ``workflows/`` files, checked as a run reads them.

A workspace copy of a shipped file wins over it (``orchestrator.resources``), so a broken copy
breaks every run, yet nothing reads it until a review does. ``aios state check`` validates each
copy with the loader a run uses, so a YAML syntax error, a file that is not UTF-8 or an unknown
key is reported by the check instead of in the middle of a review.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from orchestrator._files import read_text
from orchestrator.errors import AiosError, ConfigError
from orchestrator.state.workspace import Workspace


def _loaders() -> dict[str, Callable[[Path], object]]:
    """Files with a dedicated loader, by ``<kind>/<name>``: ``check(workspace_root)`` raises on a problem.

    Imported here, not at the top: the loaders bring the workflow, review and model settings
    (about 0.1 s), which ``aios state check`` needs only in a workspace with files of its own.
    """
    from orchestrator.llm.settings import load_models_file
    from orchestrator.llm.usage import load_prices
    from orchestrator.review.personas import load_dimensions
    from orchestrator.workflow.settings import WORKFLOW_FILE, load_workflow

    return {
        "prompts/dimensions.yaml": lambda root: load_dimensions(workspace=root),
        f"workflows/{WORKFLOW_FILE}": lambda root: load_workflow(workspace=root),
        "workflows/models.yaml": lambda root: load_models_file(root),
        "workflows/prices.yaml": lambda root: load_prices(root),
    }


def check_overrides(ws: Workspace) -> list[AiosError]:
    """Every problem in the workspace's persona, prompt and workflow files (none: an empty list)."""
    problems: list[AiosError] = []
    for path in _override_files(ws.root):
        try:
            _check_file(ws.root, path)
        except AiosError as exc:
            problems.append(exc)
    return problems


def _override_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for kind in ("personas", "prompts", "workflows"):
        folder = root / kind
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return files


def _check_file(root: Path, path: Path) -> None:
    key = f"{path.parent.name}/{path.name}"
    loaders = _loaders()
    if key in loaders:
        loaders[key](root)
    elif path.parent.name == "personas" and path.suffix == ".yaml":
        from orchestrator.review.personas import load_persona

        load_persona(path.stem, workspace=root)
    else:
        read_text(path, error=ConfigError)  # prompts and READMEs: text a run may read
