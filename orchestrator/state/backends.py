"""Which backend a workspace uses for what it may share beyond one machine.

Each setting is read from its environment variable first, then from ``backends:`` in
``state/project.yaml``; unset means the embedded default, with nothing to start::

    AIOS_STATE_URL        backends.state        tasks, events, queues, agents, sessions (else state/*.yaml)
    AIOS_CHECKPOINT_URL   backends.checkpoints  the review graph's checkpoints (else state/checkpoints.sqlite)
    AIOS_LANGGRAPH_URL    backends.langgraph    a LangGraph Server running the graph (else in-process)
"""

from __future__ import annotations

import os

from orchestrator.errors import StateError
from orchestrator.state.project import check_postgres_url
from orchestrator.state.workspace import Workspace


def state_url(ws: Workspace) -> str | None:
    """The PostgreSQL URL of the shared state, or None for the YAML files."""
    return _postgres("AIOS_STATE_URL", ws.project.backends.state)


def shared_state_url(ws: Workspace) -> str | None:
    """``state_url``, or None when the project file does not read (and no variable is set): its
    own check says why, and the files are the state then."""
    try:
        return state_url(ws)
    except StateError:
        if os.environ.get("AIOS_STATE_URL"):
            raise  # a bad URL in the variable: say so
        return None


def checkpoint_url(ws: Workspace) -> str | None:
    """The PostgreSQL URL of the graph's checkpoints, or None for ``state/checkpoints.sqlite``."""
    return _postgres("AIOS_CHECKPOINT_URL", ws.project.backends.checkpoints)


def langgraph_url(ws: Workspace) -> str | None:
    """The LangGraph Server that runs this workspace's reviews, or None to run them in-process."""
    return (os.environ.get("AIOS_LANGGRAPH_URL") or ws.project.backends.langgraph or "").rstrip("/") or None


def workspace_id(ws: Workspace) -> str:
    """Names the workspace in a shared database or server (row keys, thread ids)."""
    return ws.project.workspace_id


def _postgres(variable: str, configured: str | None) -> str | None:
    url = os.environ.get(variable) or configured
    if not url:
        return None
    try:
        return check_postgres_url(url)
    except ValueError as exc:
        where = variable if os.environ.get(variable) else "state/project.yaml (backends)"
        fix = f"set {variable} to postgresql://USER@HOST:PORT/DATABASE"
        raise StateError(f"{where}: {exc}", fix=fix) from None
