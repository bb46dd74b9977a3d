"""``aios init``: make a git repository a workspace, creating only what is missing."""

from __future__ import annotations

from pathlib import Path

from orchestrator import _yaml
from orchestrator._files import atomic_write, make_dirs
from orchestrator.sandbox import git
from orchestrator.state.project import default_project
from orchestrator.state.store import Store
from orchestrator.state.workspace import OPS_DIRS, Workspace


def init(path: Path, *, owner: str) -> tuple[Workspace, list[str]]:
    """Make the git repository at ``path`` a workspace; returns it and what was created.

    Running it again creates nothing and returns an empty list: existing files are never touched.
    """
    ws = Workspace(git.toplevel(path).resolve())
    created = _folders(ws) + _files(ws, owner=owner)
    if not ws.index_file.exists():
        Store(ws).rebuild_index()
        created.append(ws.rel(ws.index_file))
    return ws, created


def _folders(ws: Workspace) -> list[str]:
    created: list[str] = []
    for folder in [ws.tasks_dir, ws.inbox_dir, *(ws.ops_dir / d for d in OPS_DIRS)]:
        if not folder.is_dir():
            make_dirs(folder)
            created.append(ws.rel(folder) + "/")
    return created


def _files(ws: Workspace, *, owner: str) -> list[str]:
    files = {
        ws.project_file: lambda: _yaml.dump(default_project(ws.root.name, owner)),
        ws.agents_file: lambda: _yaml.dump({"schema_version": 1, "agents": []}),
        ws.sessions_file: lambda: _yaml.dump({"schema_version": 1, "sessions": []}),
    }
    created: list[str] = []
    for file, render in files.items():
        if not file.exists():
            atomic_write(file, render())
            created.append(ws.rel(file))
    return created
