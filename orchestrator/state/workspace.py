"""A workspace: a git repository with ``state/project.yaml`` at its root, and the paths inside it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from orchestrator import _yaml
from orchestrator._files import atomic_write
from orchestrator.errors import AiosError
from orchestrator.sandbox import git
from orchestrator.state.project import Project, default_project, load_project

OPS_DIRS = ("audit", "decision-log", "proposals", "deviations", "freeze", "archive")


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace, and its project settings (read on first use)."""

    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def project_file(self) -> Path:
        return self.state_dir / "project.yaml"

    @property
    def index_file(self) -> Path:
        return self.state_dir / "tasks.yaml"

    @property
    def tasks_dir(self) -> Path:
        return self.state_dir / "tasks"

    @property
    def audit_dir(self) -> Path:
        return self.root / "ops" / "audit"

    @property
    def inbox_dir(self) -> Path:
        return self.root / "tasks" / "inbox"

    def task_file(self, task_id: str) -> Path:
        return self.tasks_dir / f"{task_id}.yaml"

    def rel(self, path: Path) -> str:
        """``path`` relative to the workspace root, for messages and links."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @cached_property
    def project(self) -> Project:
        return load_project(self.project_file)

    @classmethod
    def find(cls, start: Path | None = None, *, explicit: bool = False) -> Workspace:
        """The workspace containing ``start`` (default: the current directory), like git finds a repo.

        Raises:
            AiosError: no ``state/project.yaml`` here or above (or at ``start`` when ``explicit``).
        """
        here = (start or Path.cwd()).resolve()
        candidates = [here] if explicit else [here, *here.parents]
        for folder in candidates:
            if (folder / "state" / "project.yaml").is_file():
                return cls(folder)
        where = f"at {here}" if explicit else f"in {here} or any folder above it"
        raise AiosError(
            f"no aios workspace {where}",
            fix="run `aios init` in your git repository, or pass --root to point at the workspace",
        )


def init(path: Path, *, owner: str) -> tuple[Workspace, list[str]]:
    """Make the git repository at ``path`` a workspace; returns it and what was created.

    Running it again creates nothing and returns an empty list: existing files are never touched.
    """
    root = git.toplevel(path).resolve()
    ws = Workspace(root)
    created: list[str] = []
    for folder in [ws.tasks_dir, ws.inbox_dir, *(root / "ops" / d for d in OPS_DIRS)]:
        if not folder.is_dir():
            folder.mkdir(parents=True)
            created.append(ws.rel(folder) + "/")
    files = {
        ws.project_file: lambda: _yaml.dump(default_project(root.name, owner)),
        ws.state_dir / "agents.yaml": lambda: _yaml.dump({"schema_version": 1, "agents": []}),
        ws.state_dir / "sessions.yaml": lambda: _yaml.dump({"schema_version": 1, "sessions": []}),
    }
    for file, render in files.items():
        if not file.exists():
            atomic_write(file, render())
            created.append(ws.rel(file))
    if not ws.index_file.exists():
        from orchestrator.state.store import Store

        Store(ws).rebuild_index()
        created.append(ws.rel(ws.index_file))
    return ws, created
