"""A system freeze: every queue locked at once, recorded in ``ops/freeze/`` and in the index.

While the index holds ``frozen:``, no queue starts a task, ``aios queue unlock`` is refused and
every running workflow stops at its next step (``governance.guard``). Who may freeze is the
governance layer's decision, passed in as ``authorise`` (``governance.actions.freeze``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from orchestrator import _yaml
from orchestrator._files import atomic_write, make_dirs
from orchestrator._text import visible
from orchestrator.errors import StateError
from orchestrator.redact import redact
from orchestrator.state import audit
from orchestrator.state.audit import check_actor
from orchestrator.state.records import SYSTEM_LOCK, Freeze, QueueState, now
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace

#: Refuses (raises ``PermissionDenied``) unless an actor may freeze or unfreeze the system:
#: ``authorise(ws, actor, doing)``; the governance layer passes it.
AuthoriseFreeze: TypeAlias = Callable[[Workspace, str, str], None]


@dataclass(frozen=True)
class FreezeResult:
    """What ``freeze`` or ``unfreeze`` did."""

    freeze: Freeze
    """The freeze made, lifted, or (``changed`` False) the one already in force."""
    changed: bool
    """False: the system was already frozen (``freeze``), or was not frozen (``unfreeze``)."""
    queues: list[str]
    """The queues locked (``freeze``) or unlocked (``unfreeze``)."""


def current(ws: Workspace) -> Freeze | None:
    """The freeze in force, if any (hand edits of the index recorded first)."""
    return open_store(ws).read_locks().frozen  # the index's head only, not its tasks


def freeze(ws: Workspace, *, actor: str, reason: str, authorise: AuthoriseFreeze) -> FreezeResult:
    """Lock every queue with SYSTEM_LOCK, mark the index frozen and write the freeze record.

    Raises:
        PermissionDenied: the actor may not freeze the system.
        StateError: no reason was given.
    """
    check_actor(actor)
    authorise(ws, actor, "freeze the system")
    if not reason.strip():
        raise StateError(
            "freezing the system needs a reason", fix="pass --reason TEXT (it goes in the freeze record)"
        )
    reason = redact(reason)  # the record and the governance log are append-only
    names = list(ws.project.queues)
    with open_store(ws).transaction() as txn:
        if txn.index.frozen is not None:
            return FreezeResult(txn.index.frozen, False, [])
        stamp = now()
        locked = [n for n in names if not txn.index.queues.get(n, QueueState()).lock]
        for name in locked:
            txn.index.queues[name] = QueueState(
                lock=SYSTEM_LOCK, locked_by=actor, locked_at=stamp, reason=f"system freeze: {reason}"
            )
        record = _record_path(ws, stamp)
        txn.index.frozen = Freeze(by=actor, at=stamp, reason=reason, record=ws.rel(record), locked=locked)
        txn.index_dirty = True
        done = txn.index.frozen
    _write_record(ws, record, done, queues=names)
    if locked:
        audit.record_queue_locks(ws, locked, verb="locked", actor=actor, reason=f"system freeze: {reason}")
    audit.append_governance(
        ws, f"system frozen by {actor}: every queue locked ({', '.join(names)}); {reason}; see {done.record}"
    )
    return FreezeResult(done, True, locked)


def unfreeze(
    ws: Workspace, *, actor: str, reason: str | None, authorise: AuthoriseFreeze
) -> FreezeResult | None:
    """Lift the freeze: unlock the queues it locked (others stay locked), record who and when.

    Returns None when the system is not frozen.

    Raises:
        PermissionDenied: the actor may not unfreeze the system.
    """
    check_actor(actor)
    authorise(ws, actor, "unfreeze the system")
    reason = redact(reason) if reason else None
    with open_store(ws).transaction() as txn:
        frozen = txn.index.frozen
        if frozen is None:
            return None
        for name in frozen.locked:
            txn.index.queues[name] = QueueState()
        txn.index.frozen = None
        txn.index_dirty = True
    if frozen.locked:
        audit.record_queue_locks(ws, frozen.locked, verb="unlocked", actor=actor, reason="system unfrozen")
    audit.append_freeze_lifted(ws, frozen.record, actor=actor, reason=reason)
    why = f"; {reason}" if reason else ""
    audit.append_governance(
        ws, f"system unfrozen by {actor} (frozen since {frozen.at}){why}; see {frozen.record}"
    )
    return FreezeResult(frozen, True, frozen.locked)


def _record_path(ws: Workspace, at: str) -> Path:
    """``ops/freeze/FREEZE-2026-12-06T05-59-00Z.md``, numbered ``-2``, ``-3`` ... if taken."""
    base = f"FREEZE-{at[:19].replace(':', '-')}Z"
    path, number = ws.freeze_dir / f"{base}.md", 1
    while path.exists():
        number += 1
        path = ws.freeze_dir / f"{base}-{number}.md"
    return path


def _write_record(ws: Workspace, path: Path, frozen: Freeze, *, queues: list[str]) -> None:
    """The freeze record: front matter (by, at, reason, queues), then what it means; unfreezing
    appends who lifted it and when (``audit.append_freeze_lifted``)."""
    meta = {"by": frozen.by, "at": frozen.at, "reason": frozen.reason, "queues": queues}
    already = sorted(set(queues) - set(frozen.locked))
    body = (
        f"# System freeze {path.stem}\n\n"
        f"{visible(frozen.by)} froze the system: every queue is locked (SYSTEM_LOCK), no task starts, and "
        "every running workflow stops at its next step (no model call, commit or merge).\n"
        + (
            f"Already locked before the freeze, and still locked after it: {', '.join(already)}.\n"
            if already
            else ""
        )
        + "\nThe project owner lifts it with `aios unfreeze`; each run then resumes with "
        "`aios review run <TASK_ID>`.\n\n## Lifted\n\n"
    )
    make_dirs(path.parent)
    atomic_write(path, f"---\n{_yaml.dump(meta)}---\n\n{body}")
