"""``aios maintenance archive-audits``: move finished tasks' audit trails to ``ops/archive/``.

A trail moves whole, under the state lock, once its task is ``done`` and its last event is older
than the given age. ``Workspace.audit_file`` finds a trail in either folder, so ``aios task
status``, ``aios state check`` and every later append (a note on a finished task) keep working,
and the hash chain goes on in the archived file.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from orchestrator._files import make_dirs
from orchestrator._lock import exclusive
from orchestrator.state.lifecycle import Status
from orchestrator.state.stores import open_store, task_exists
from orchestrator.state.workspace import Workspace


def archive_audits(ws: Workspace, *, older_than_days: int, now: datetime | None = None) -> list[str]:
    """Move the trails of ``done`` tasks whose last event is older than ``older_than_days``; returns
    the task ids moved. The index lists live tasks only, so each candidate's task file is read."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    moved: list[str] = []
    store = open_store(ws)
    with exclusive(ws.state_lock):
        for trail in sorted(ws.audit_dir.glob("TASK_*.md")):
            if not task_exists(ws, trail.stem):
                continue
            task = store.read_task(trail.stem)
            last = datetime.fromisoformat(task.updated_at.replace("Z", "+00:00"))
            if task.status is Status.DONE and last < cutoff:
                make_dirs(ws.archive_dir)
                os.replace(trail, ws.archive_dir / trail.name)
                moved.append(task.id)
    return moved
