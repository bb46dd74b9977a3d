"""Which store holds a workspace's state: the YAML files, or PostgreSQL when a URL is set.

Every service opens the store through ``open_store``; ``backends.state_url`` decides (the
``AIOS_STATE_URL`` variable, else ``backends.state`` in ``state/project.yaml``). The PostgreSQL
store is imported only then, so the embedded default never loads psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from orchestrator.state import backends
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace

if TYPE_CHECKING:
    from orchestrator.state.postgres import PgStore

    StateStore: TypeAlias = Store | PgStore


def open_store(ws: Workspace) -> StateStore:
    """The workspace's store: ``PgStore`` when a state URL is configured, else the YAML ``Store``."""
    shared = shared_store(ws)
    return shared if shared is not None else Store(ws)


def shared_store(ws: Workspace) -> PgStore | None:
    """The PostgreSQL store when one is configured, else None (the YAML files)."""
    url = backends.shared_state_url(ws)
    if url is None:
        return None
    from orchestrator.state.postgres import PgStore

    return PgStore(ws, url)


def task_exists(ws: Workspace, task_id: str) -> bool:
    """Whether the workspace holds task ``task_id`` (its file, or its row in the database)."""
    shared = shared_store(ws)
    return shared.has_task(task_id) if shared is not None else ws.task_file(task_id).exists()


def task_ids(ws: Workspace) -> list[str]:
    """Every task id, in order."""
    shared = shared_store(ws)
    if shared is not None:
        return [str(row["id"]) for row in shared.summaries(include_done=True)]
    return sorted(p.stem for p in ws.tasks_dir.glob("TASK_*.yaml"))
