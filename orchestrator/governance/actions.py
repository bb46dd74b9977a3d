"""The governed actions: moving a task through its lifecycle, and locking or unlocking queues.

Every entry point (the CLI, the MCP server, the workflow graph) calls these. ``authority`` decides
who may; the state layer (``state.tasks``, ``state.queues``) applies the change under its lock.
"""

from __future__ import annotations

from orchestrator.governance.authority import authorise, authorise_lock
from orchestrator.state import queues, tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import TaskState
from orchestrator.state.workspace import Workspace


def transition(
    ws: Workspace,
    tid: str,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    artifacts: list[str] | None = None,
) -> TaskState:
    """Apply a lifecycle ``action`` to task ``tid`` as ``actor``; returns the updated task.

    Raises:
        TransitionError: the action is not allowed from the task's status.
        PermissionDenied: the actor may not take it.
        QueueError: it needs a queue slot and the queue is full or locked.
    """
    return tasks.transition(
        ws, tid, action, actor=actor, authorise=authorise, reason=reason, artifacts=artifacts
    )


def advance(ws: Workspace, tid: str, want: Status, *, actor: str, reason: str) -> TaskState:
    """Bring ``tid`` to ``want`` by the workflow's route, each step authorised (``tasks.advance``).

    Raises:
        TransitionError: no step leads on from the task's status.
        PermissionDenied: the actor may not take a step on the way.
    """
    return tasks.advance(ws, tid, want, actor=actor, authorise=authorise, reason=reason)


def set_lock(
    ws: Workspace, names: list[str], *, locked: bool, actor: str, reason: str | None = None
) -> list[str]:
    """Lock or unlock queues; returns the queues whose state changed (``queues.set_lock``).

    Raises:
        PermissionDenied: the actor lacks the lock_queue (unlock_queue) permission.
        StateError: a queue is not defined.
    """
    return queues.set_lock(ws, names, locked=locked, actor=actor, authorise=authorise_lock, reason=reason)
