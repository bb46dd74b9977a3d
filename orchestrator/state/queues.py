"""Queues: concurrency limits from ``state/project.yaml``, locks kept in ``state/tasks.yaml``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from orchestrator.errors import QueueError, StateError
from orchestrator.state import audit
from orchestrator.state.project import QueuePolicy
from orchestrator.state.records import HAND_EDIT_ACTOR, SYSTEM_LOCK, Freeze, Index, QueueState, TaskState, now
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace

#: Refuses (raises ``PermissionDenied``) unless an actor may lock (True) or unlock (False) queues:
#: ``authorise(ws, actor, locked)``; the governance layer passes it (``authority.authorise_lock``).
AuthoriseLock: TypeAlias = Callable[[Workspace, str, bool], None]


def policy(ws: Workspace, queue: str) -> QueuePolicy:
    """The queue's policy.

    Raises:
        StateError: the queue is not defined in the project file.
    """
    try:
        return ws.project.queues[queue]
    except KeyError:
        raise StateError(
            f"queue {queue!r} is not defined",
            file=ws.rel(ws.project_file),
            field="queues",
            fix=f"use one of {', '.join(ws.project.queues)}, or add {queue} under queues",
        ) from None


def claim_slot(ws: Workspace, index: Index, task: TaskState) -> None:
    """Refuse unless ``task``'s queue is unlocked and has a free slot (called under the state lock)."""
    limit = policy(ws, task.queue).max_concurrent
    if index.frozen is not None:
        raise QueueError(f"{frozen_text(index.frozen)}; no queue starts anything", fix=UNFREEZE_FIX)
    state = index.queues.get(task.queue)
    if state is not None and state.lock:
        raise QueueError(
            f"queue {task.queue} is {locked_text(state)}; it starts nothing",
            fix=f"an L1 platform engineer or the owner runs `aios queue unlock {task.queue}`",
        )
    running = index.running(task.queue)
    if len(running) >= limit:
        raise QueueError(
            f"queue {task.queue} is full: {len(running)} of {limit} running ({', '.join(running)})",
            fix=f"finish or block one of them first, or raise queues.{task.queue}.max_concurrent "
            f"in {ws.rel(ws.project_file)}",
        )


#: How a freeze is lifted, for every refusal it causes.
UNFREEZE_FIX = "the project owner lifts the freeze with `aios unfreeze` (see ops/freeze/ for why it froze)"


def frozen_text(freeze: Freeze) -> str:
    """``the system is frozen since <at> by <by> (<reason>)``."""
    why = f" ({freeze.reason})" if freeze.reason else ""
    return f"the system is frozen since {freeze.at} by {freeze.by}{why}"


def locked_text(state: QueueState) -> str:
    """``locked (SYSTEM_LOCK by bob) (incident 42)``; a lock written by hand says so."""
    by = f" by {state.locked_by}" if state.locked_by else f" by a {HAND_EDIT_ACTOR}"
    why = f" ({state.reason})" if state.reason else ""
    return f"locked ({state.lock}{by}){why}"


def status(ws: Workspace) -> list[dict[str, object]]:
    """Each queue's limit, lock and running tasks; ``frozen`` is the freeze in force (or None)."""
    index = open_store(ws).index()
    frozen = index.frozen.model_dump() if index.frozen else None
    out = []
    for name, pol in ws.project.queues.items():
        state = index.queues.get(name)
        running = index.running(name)
        out.append(
            {
                "queue": name,
                "max_concurrent": pol.max_concurrent,
                "running": running,
                "free": max(0, pol.max_concurrent - len(running)),
                "locked": bool(state and state.lock),
                "lock": state.lock if state else None,
                "locked_by": state.locked_by if state else None,
                "reason": state.reason if state else None,
                "requires_human_approval": pol.requires_human_approval,
                "frozen": frozen,
            }
        )
    return out


def set_lock(
    ws: Workspace,
    names: list[str],
    *,
    locked: bool,
    actor: str,
    authorise: AuthoriseLock,
    reason: str | None = None,
) -> list[str]:
    """Lock or unlock queues, if ``authorise`` lets ``actor``; returns the queues whose state changed.

    Entry points call ``governance.actions.set_lock``, which passes the project's rules.
    """
    authorise(ws, actor, locked)
    for name in names:
        policy(ws, name)
    changed = []
    with open_store(ws).transaction() as txn:
        if not locked and txn.index.frozen is not None:
            raise QueueError(
                f"{frozen_text(txn.index.frozen)}: its queues stay locked until it is lifted",
                fix=UNFREEZE_FIX,
            )
        for name in names:
            state = txn.index.queues.setdefault(name, QueueState())
            if bool(state.lock) == locked:
                continue
            stamp = now()
            state.lock = SYSTEM_LOCK if locked else None
            state.locked_by, state.locked_at, state.reason = (
                (actor, stamp, reason) if locked else (None, None, None)
            )
            changed.append(name)
        txn.index_dirty = bool(changed)
    if changed:
        record_freeze(ws, changed, verb="locked" if locked else "unlocked", actor=actor, reason=reason)
    return changed


def record_freeze(ws: Workspace, names: list[str], *, verb: str, actor: str, reason: str | None) -> None:
    """Append one line to ``ops/freeze/queue-locks.md``, the history of queue locks."""
    audit.record_queue_locks(ws, names, verb=verb, actor=actor, reason=reason)
