"""Where shipped data files (personas, prompts, workflows) are found, and how a workspace overrides them.

A workspace may hold its own ``personas/``, ``prompts/`` or ``workflows/`` file of the same name;
that copy wins over the one shipped with aios.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import ConfigError

#: The directory holding the shipped ``personas/``, ``prompts/`` and ``workflows/`` folders.
SHIPPED_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("personas", "prompts", "workflows")


def data_file(kind: str, name: str, *, workspace: Path | None = None) -> Path:
    """The file ``<kind>/<name>``: the workspace's own copy if it has one, else the shipped one.

    Raises:
        ConfigError: neither exists.
    """
    for base in _search_roots(workspace):
        candidate = base / kind / name
        if candidate.is_file():
            return candidate
    known = available(kind, workspace=workspace)
    raise ConfigError(
        f"no {kind[:-1]} file named {name!r}",
        file=f"{kind}/{name}",
        fix=f"create {kind}/{name} in the workspace, or use one of: {', '.join(known)}",
    )


def available(kind: str, *, workspace: Path | None = None, suffix: str = "") -> list[str]:
    """Names of the files of ``kind`` visible from ``workspace`` (workspace and shipped), sorted."""
    names: set[str] = set()
    for base in _search_roots(workspace):
        folder = base / kind
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))
    return sorted(names)


def names(kind: str, *, workspace: Path | None = None, suffix: str = ".yaml") -> list[str]:
    """Names of the ``kind`` files visible from ``workspace``, without ``suffix`` (``security_expert``)."""
    return [name.removesuffix(suffix) for name in available(kind, workspace=workspace, suffix=suffix)]


def _search_roots(workspace: Path | None) -> list[Path]:
    roots = [workspace] if workspace is not None else []
    return [*roots, SHIPPED_ROOT]
