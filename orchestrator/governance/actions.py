"""The governed actions: moving a task through its lifecycle, locking or unlocking queues, and
the emergency controls (a system freeze, a task's emergency stop).

Every entry point (the CLI, the MCP server, the workflow graph) calls these. ``authority`` decides
who may; the state layer (``state.tasks``, ``state.queues``) applies the change under its lock.
"""

from __future__ import annotations

from orchestrator.governance import authority
from orchestrator.governance.authority import authorise, authorise_lock
from orchestrator.state import freeze as freezing
from orchestrator.state import queues, tasks
from orchestrator.state.freeze import FreezeResult
from orchestrator.state.lifecycle import Status
from orchestrator.state.project import Permission
from orchestrator.state.records import TaskState
from orchestrator.state.tasks import MoveCheck
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


def advance(
    ws: Workspace, tid: str, want: Status, *, actor: str, reason: str, check: MoveCheck | None = None
) -> TaskState:
    """Bring ``tid`` to ``want`` by the workflow's route, each step authorised (``tasks.advance``).

    ``check`` (a run's ``RunGuard.before_move``) may refuse the move under the state lock.

    Raises:
        TransitionError: no step leads on from the task's status.
        PermissionDenied: the actor may not take a step on the way.
        RunStopped: ``check`` refused: a person stopped the run.
    """
    return tasks.advance(ws, tid, want, actor=actor, authorise=authorise, reason=reason, check=check)


def stop(ws: Workspace, tid: str, *, actor: str, reason: str) -> TaskState:
    """Emergency-stop ``tid``: blocked with an ``emergency_stop`` event; its run stops at its next
    step and only a person's ``unblock`` lifts it. Who may stop is who may ``block``.

    Raises:
        PermissionDenied: the actor may not block the task.
        TransitionError: the task is done.
        StateError: no reason was given.
    """
    return tasks.stop(ws, tid, actor=actor, reason=reason, authorise=authorise)


def set_lock(
    ws: Workspace, names: list[str], *, locked: bool, actor: str, reason: str | None = None
) -> list[str]:
    """Lock or unlock queues; returns the queues whose state changed (``queues.set_lock``).

    Raises:
        PermissionDenied: the actor lacks the lock_queue (unlock_queue) permission.
        StateError: a queue is not defined.
    """
    return queues.set_lock(ws, names, locked=locked, actor=actor, authorise=authorise_lock, reason=reason)


def _authorise_freeze(ws: Workspace, actor: str, doing: str) -> None:
    """Who may freeze and unfreeze the system: one call, so the rule is a one-line change."""
    authority.require(ws, actor, Permission.FREEZE, doing=doing)


def freeze(ws: Workspace, *, actor: str, reason: str) -> FreezeResult:
    """Freeze the system (``state.freeze.freeze``): every queue locked, every run stopped.

    Raises:
        PermissionDenied: the actor lacks the freeze permission.
        StateError: no reason was given.
    """
    return freezing.freeze(ws, actor=actor, reason=reason, authorise=_authorise_freeze)


def unfreeze(ws: Workspace, *, actor: str, reason: str | None = None) -> FreezeResult | None:
    """Lift the freeze (``state.freeze.unfreeze``); None when the system was not frozen.

    Raises:
        PermissionDenied: the actor lacks the freeze permission.
    """
    return freezing.unfreeze(ws, actor=actor, reason=reason, authorise=_authorise_freeze)
