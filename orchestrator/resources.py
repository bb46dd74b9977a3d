"""Where shipped data files (personas, prompts, workflows) are found, and how a workspace overrides them.

A workspace may hold its own ``personas/``, ``prompts/`` or ``workflows/`` file of the same name;
that copy wins over the one shipped with aios.

The shipped files are package data, ``orchestrator/data/<kind>/``, so they are found the same way
from a wheel, a ``pipx``/``uv tool`` install and an editable checkout. In the repository those three
folders are symlinks to the folders at its root, which people read and edit.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from orchestrator.errors import ConfigError


def _shipped_root() -> Path:
    root = files("orchestrator") / "data"
    # pip, pipx and uv install packages as files. Imported from a zip, the files could not be handed
    # to tools by path, and every persona would look missing; say so instead.
    if not isinstance(root, Path):
        raise ImportError(f"aios must be installed as files (pip, pipx, uv tool), not run from {root}")
    return root


#: The directory holding the shipped ``personas/``, ``prompts/`` and ``workflows/`` folders
#: and the demo's recording.
SHIPPED_ROOT = _shipped_root()
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
