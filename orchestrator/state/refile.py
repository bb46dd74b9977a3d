"""Re-file an inbox task into another queue at triage: a new id in that queue, the old one redirects.

A task id embeds its queue and the TaskCard's id must match its queue, so a task moved to another
queue is re-filed under the next free id there. Its history goes with it: the new task file holds
every event of the old one (same seq numbers) plus a ``refile`` event naming both ids; the new
trail ``ops/audit/<NEW>.md`` is a fresh hash chain over all of them, and the old trail keeps every
line it had, with that ``refile`` event appended, so both trails link each other.

The steps, each safe to repeat, under the state lock:

1. the intent, ``state/refiled.yaml`` (``state.refiled``), with the new id: from here on a crash
   leaves a re-file that ``aios state check`` reports and that running the same
   ``aios task triage OLD --queue Q`` again finishes (``finish``);
2. the ``refile`` event on the old task, the new TaskCard, and the new task (one transaction:
   task files, index and trails written as every commit is, through the journal);
3. the old id leaves the index (a transaction of its own: a task file is never deleted while the
   index lists it, or every later command would refuse);
4. the old TaskCard (when the new one is a new file) and last the old task file are deleted.

Who may re-file is who may approve tasks, in the old queue and the new one (``authorise``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from orchestrator._files import atomic_write, read_text
from orchestrator.errors import ConfigError, StateError, TransitionError
from orchestrator.state import escalations, refiled, taskcard, tasks
from orchestrator.state.audit import check_actor
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import EventKind, TaskState, now
from orchestrator.state.refiled import Refiled
from orchestrator.state.stores import open_store, shared_store
from orchestrator.state.workspace import Workspace

#: Refuses (raises ``PermissionDenied``) unless an actor may re-file ``task`` into ``queue``:
#: ``authorise(ws, task, queue, actor)``; the governance layer decides.
AuthoriseRefile: TypeAlias = Callable[[Workspace, TaskState, str, str], None]


def refile(
    ws: Workspace,
    tid: str,
    *,
    queue: str,
    actor: str,
    authorise: AuthoriseRefile,
    reason: str | None = None,
    session: str | None = None,
) -> TaskState:
    """Re-file inbox task ``tid`` into ``queue`` under a new id; returns the new task.

    A re-file of ``tid`` that a crash interrupted is finished instead (whatever ``queue`` says now).

    Raises:
        TransitionError: the task has left the inbox.
        ConfigError: an unknown queue, or the queue it is already in.
        PermissionDenied: the actor may not approve tasks in either queue.
        StateError: no such task, or it was re-filed already.
    """
    check_actor(actor)
    if shared_store(ws) is not None:
        # A re-file moves a task file to a new id in three recoverable steps; on the database it
        # would be one transaction, not written yet. Refused, rather than half done.
        raise StateError(
            "re-filing a task into another queue is not supported on PostgreSQL state yet",
            fix="create the task anew in the other queue (`aios task new --queue ...`) and block this one",
        )
    if (started := refiled.find(ws, tid)) is not None:
        task = tasks.get(ws, tid)  # gone: says where the task went
        authorise(ws, task, started.to_queue, actor)
        return finish(ws, started)
    _check_queue(ws, queue)
    _no_open_escalation(ws, tid)
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        authorise(ws, task, queue, actor)
        if task.status is not Status.INBOX:
            raise TransitionError(
                f"cannot re-file {tid} into {queue}: it is {task.status.value}, not in the inbox",
                fix=f"a task changes queue only at triage; `aios task status {tid}` shows where it is",
            )
        if task.queue == queue:
            raise ConfigError(
                f"{tid} is in the {queue} queue already", field="--queue", fix="name another queue"
            )
        new = tasks.free_id(ws, txn, queue)
        record = Refiled(
            old=tid,
            new=new,
            from_queue=task.queue,
            to_queue=queue,
            by=actor,
            at=now(),
            reason=reason,
            session=session,
            card_from=task.card,
            card_to=_new_card_path(task.card, tid, new),
            events=len(task.events) + 1,
        )
        refiled.add(ws, record)  # the intent, under the lock; the commit keeps the new id's number
    return finish(ws, record)


def finish(ws: Workspace, record: Refiled) -> TaskState:
    """Carry out (or finish) ``record``'s re-file, each step skipped once done; returns the new task."""
    if ws.task_file(record.old).exists():
        with open_store(ws).transaction() as txn:
            old = txn.task(record.old)
            if not _refile_recorded(old, record):
                why = describe(record) + (f"; {record.reason}" if record.reason else "")
                txn.record(
                    old,
                    actor=record.by,
                    to=old.status,
                    reason=why,
                    artifacts=[record.card_to],
                    session=record.session,
                    kind=EventKind.REFILE,
                )
            _write_card(ws, record)
            if not ws.task_file(record.new).exists():
                txn.add(_moved(old, record))
        with open_store(ws).transaction() as txn:
            if txn.index.tasks.pop(record.old, None) is not None:
                txn.index_dirty = True
    with open_store(ws).transaction():
        _remove_old(ws, record)
    return tasks.get(ws, record.new)


def describe(record: Refiled) -> str:
    """The ``refile`` event's text, the same on both trails."""
    return f"re-filed: {record.old} (queue {record.from_queue}) → {record.new} (queue {record.to_queue})"


def half_done(ws: Workspace) -> list[Refiled]:
    """Re-files a crash interrupted: the old task file (or a separate old TaskCard) is still there."""
    if not ws.refiled_file.exists():
        return []
    return [
        r
        for r in refiled.load(ws).refiled
        if ws.task_file(r.old).exists() or (r.card_from != r.card_to and (ws.root / r.card_from).exists())
    ]


def old_trail_view(ws: Workspace, record: Refiled) -> TaskState | None:
    """The old task as its trail must show it: the current task's first ``record.events`` events
    under the old id (None when the task it became cannot be read)."""
    try:
        now_task = tasks.get(ws, refiled.current_id(ws, record.new))
    except StateError:
        return None
    return now_task.model_copy(
        update={"id": record.old, "queue": record.from_queue, "events": now_task.events[: record.events]}
    )


def _refile_recorded(task: TaskState, record: Refiled) -> bool:
    last = task.events[-1] if task.events else None
    return last is not None and last.kind is EventKind.REFILE and f"→ {record.new} " in (last.reason or "")


def _moved(old: TaskState, record: Refiled) -> TaskState:
    return old.model_copy(
        deep=True, update={"id": record.new, "queue": record.to_queue, "card": record.card_to}
    )


def _check_queue(ws: Workspace, queue: str) -> None:
    if queue not in ws.project.queues:
        raise ConfigError(
            f"unknown queue {queue!r}",
            field="--queue",
            fix=f"use one of {', '.join(ws.project.queues)} (defined in {ws.rel(ws.project_file)})",
        )


def _no_open_escalation(ws: Workspace, tid: str) -> None:
    """An open escalation names the task by its id: it is answered before the id changes."""
    found = [
        e.id
        for e in escalations.load(ws).escalations
        if e.task_id == tid and e.state is escalations.EscalationState.OPEN
    ]
    if found:
        raise StateError(
            f"{tid} has an open escalation ({', '.join(found)}), which names it by this id",
            fix="answer it first (`aios escalation answer ...`), then re-file the task",
        )


def _new_card_path(card: str, old: str, new: str) -> str:
    """``tasks/inbox/<NEW>.md`` for a card named for its id; a card named otherwise keeps its file."""
    path = Path(card)
    return str(path.with_name(f"{new}.md")) if path.stem == old else card


_FIELD_LINE = r"(?m)^{key}:[^\n]*$"


def _write_card(ws: Workspace, record: Refiled) -> None:
    """Write the new TaskCard: the old one with its ``id:`` and ``queue:`` lines replaced."""
    source, dest = ws.root / record.card_from, ws.root / record.card_to
    if not source.exists():
        if dest.exists():
            return  # written, and the old card removed
        raise StateError(
            f"the TaskCard of {record.old} is gone, so it cannot be re-filed as {record.new}",
            file=record.card_from,
            fix=f"restore it from git (`git checkout -- {record.card_from}`), then run "
            f"`aios task triage {record.old} --queue {record.to_queue}` again",
        )
    card = taskcard.load(source)
    if card.id != record.old:
        return  # rewritten in place already
    text = read_text(source, error=ConfigError)
    end = text.index("\n---", 3)  # the closing fence (``taskcard.load`` found it)
    front = text[:end]
    for key, value in (("id", record.new), ("queue", record.to_queue)):
        front = re.sub(_FIELD_LINE.format(key=key), f"{key}: {value}", front, count=1)
    new_text = front + text[end:]
    changed = taskcard.parse(new_text, file=dest)
    assert changed == card.model_copy(update={"id": record.new, "queue": record.to_queue})
    atomic_write(dest, new_text)


def _remove_old(ws: Workspace, record: Refiled) -> None:
    """The old TaskCard (if a file of its own), then the old task file: its absence marks the end."""
    if record.card_from != record.card_to:
        (ws.root / record.card_from).unlink(missing_ok=True)
    ws.task_file(record.old).unlink(missing_ok=True)
