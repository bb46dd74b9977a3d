"""Task services: create TaskCards, record notes, and apply lifecycle moves with their queue slots.

Who may make a move is the governance layer's decision, passed in as ``authorise``: entry points
(CLI, MCP server, workflow graph) move tasks through ``governance.actions``. Nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from orchestrator import _gc, resources
from orchestrator._files import atomic_write, make_dirs, read_text
from orchestrator.errors import ConfigError, StateError, TransitionError
from orchestrator.redact import redact
from orchestrator.sandbox import git
from orchestrator.state import lifecycle, queues, refiled, scan, taskcard
from orchestrator.state.audit import check_actor
from orchestrator.state.lifecycle import ACTIVE, Status
from orchestrator.state.records import EventKind, Index, TaskState, now
from orchestrator.state.store import Store, Txn
from orchestrator.state.stores import open_store, task_exists
from orchestrator.state.taskcard import TaskCard, check_commands, render, task_id
from orchestrator.state.workspace import Workspace

#: Refuses (raises ``PermissionDenied``) unless an actor may take an action on a task:
#: ``authorise(ws, task, action, actor)``. The governance layer decides (``authority.authorise``)
#: and passes it in, so this layer applies moves without deciding who may make them.
Authorise: TypeAlias = Callable[[Workspace, TaskState, str, str], None]

#: Called under the state lock before the workflow moves a task, with the index and the task as
#: they are then: raises to refuse the move (the run guard: a person stopped the run meanwhile).
MoveCheck: TypeAlias = Callable[[Index, TaskState], None]


def check_card(ws: Workspace, card: TaskCard, *, file: str | Path) -> None:
    """Checks a card passes before it is registered: its commands split, its queue and personas exist.

    Raises:
        ConfigError: naming the field and the known values.
    """
    check_commands(card, file=file)
    known_queues = ws.project.queues
    if card.queue not in known_queues:
        raise ConfigError(
            f"unknown queue {card.queue!r}",
            file=file,
            field="queue",
            fix=f"use one of {', '.join(known_queues)} (queues are defined in {ws.rel(ws.project_file)})",
        )
    known = resources.names("personas", workspace=ws.root)
    for i, persona in enumerate(card.personas):
        if persona not in known:
            raise ConfigError(
                f"unknown persona {persona!r}",
                file=file,
                field=f"personas[{i}]",
                fix=f"use one of {', '.join(known)}",
            )


def target_branch(ws: Workspace, card: TaskCard) -> str:
    """The branch ``card``'s change merges into: its ``target_branch``, else the repository's default.

    Raises:
        GitError: the card names none and the repository's default branch cannot be told.
    """
    return card.target_branch or git.default_branch(ws.root)


def create(
    ws: Workspace, card: TaskCard, *, actor: str, card_file: Path | None = None, session: str | None = None
) -> TaskState:
    """Register ``card`` as a new task in ``inbox``.

    Without ``card_file`` the card gets the next free id of its queue and the repository's default
    branch as its ``target_branch`` if it names none, and is written to ``tasks/inbox/<ID>.md``;
    with it, the card's own id is used and the file stays where it is (`target_branch` then
    resolves the default branch when the review runs).
    """
    check_actor(actor)  # before the card file is written
    check_card(ws, card, file=card_file or "TaskCard")
    if card_file is None:
        # Recorded now, while the default branch is checked out: later the main checkout may be on
        # the task's own branch (an external builder at work), and the card must still say `master`.
        card = card.model_copy(update={"target_branch": target_branch(ws, card)})
    written: list[Path] = []
    try:
        return _register(ws, card, actor=actor, card_file=card_file, written=written, session=session)
    except BaseException:
        # A failed commit (a full disk) must not leave a card file for a task that was never created.
        for path in written:
            if not ws.task_file(path.stem).exists():
                path.unlink(missing_ok=True)
        raise


def _register(
    ws: Workspace,
    card: TaskCard,
    *,
    actor: str,
    card_file: Path | None,
    written: list[Path],
    session: str | None,
) -> TaskState:
    with open_store(ws).transaction() as txn:
        if card_file is None:
            card = card.model_copy(update={"id": free_id(ws, txn, card.queue)})
            card_file = ws.inbox_dir / f"{card.id}.md"
            make_dirs(card_file.parent)
            atomic_write(card_file, render(card))
            written.append(card_file)
        elif task_exists(ws, card.id) or card.id in refiled.taken(ws):
            raise ConfigError(
                f"task {card.id} already exists",
                file=card_file,
                field="id",
                fix="give the card an unused id, or leave the id out to get one: `aios task new --queue ...`",
            )
        created = now()
        task = TaskState(
            id=card.id,
            title=redact(card.title),  # the title goes to the index and the audit trail's header
            queue=card.queue,
            priority=card.priority,
            role_mode=card.role_mode.value,
            card=ws.rel(card_file.resolve()),
            status=Status.INBOX,
            created_at=created,
            updated_at=created,
        )
        txn.add(task)
        txn.record(task, actor=actor, to=Status.INBOX, reason="TaskCard created", session=session)
    return task


def transition(
    ws: Workspace,
    tid: str,
    action: str,
    *,
    actor: str,
    authorise: Authorise,
    reason: str | None = None,
    artifacts: list[str] | None = None,
    session: str | None = None,
) -> TaskState:
    """Apply a lifecycle ``action`` to task ``tid`` as ``actor``, if ``authorise`` lets them.

    Entry points call ``governance.actions.transition``, which passes the project's rules.

    Raises:
        TransitionError: the action is not allowed from the task's status.
        PermissionDenied: the actor may not take it.
        QueueError: it needs a queue slot and the queue is full or locked.
    """
    check_actor(actor)
    require_here(ws, tid)
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        _apply(
            ws,
            txn,
            task,
            action,
            actor=actor,
            authorise=authorise,
            reason=reason,
            artifacts=artifacts,
            session=session,
        )
    return task


def advance(
    ws: Workspace,
    tid: str,
    want: Status,
    *,
    actor: str,
    authorise: Authorise,
    reason: str,
    session: str | None = None,
    check: MoveCheck | None = None,
) -> TaskState:
    """Move ``tid`` to ``want`` by the workflow's route (``lifecycle.step``), all in one transaction.

    A task already at ``want`` is left alone, so a workflow step that runs again changes nothing.
    ``check`` (the run guard) sees the task first, under the state lock when it is moved.

    Raises:
        TransitionError: no step leads on from the task's status.
    """
    check_actor(actor)
    task = get(ws, tid)
    if task.status is want:
        if check is not None:
            check(open_store(ws).read_index(), task)
        return task
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        if check is not None:
            check(txn.index, task)
        while task.status is not want:
            if (action := lifecycle.step(task.status, want)) is None:
                raise lifecycle.no_route(tid, task.status, want)
            _apply(ws, txn, task, action, actor=actor, authorise=authorise, reason=reason, session=session)
    return task


def _apply(
    ws: Workspace,
    txn: Txn,
    task: TaskState,
    action: str,
    *,
    actor: str,
    authorise: Authorise,
    reason: str | None,
    artifacts: list[str] | None = None,
    session: str | None = None,
) -> None:
    to = lifecycle.target(action, task.status, task_id=task.id, blocked_from=task.blocked_from)
    authorise(ws, task, action, actor)
    if action == "block" and not (reason and reason.strip()):
        raise StateError(f"blocking {task.id} needs a reason", fix="pass --reason TEXT")
    if lifecycle.takes_slot(task.status, to):
        queues.claim_slot(ws, txn.index, task)
    task.blocked_from = task.status if to is Status.BLOCKED else None
    txn.record(task, actor=actor, to=to, reason=reason or action, artifacts=artifacts, session=session)


def triage(
    ws: Workspace,
    tid: str,
    *,
    priority: int,
    actor: str,
    authorise: Authorise,
    reason: str | None = None,
    session: str | None = None,
) -> TaskState:
    """Set the priority of ``tid``, still in ``inbox``, in its task file and its TaskCard.

    The card's ``priority:`` line is replaced in place (the rest of the card is left as written);
    the change is a note on the audit trail. Who may triage is who may approve (``authorise``).

    Raises:
        TransitionError: the task has left the inbox.
        ConfigError: a priority outside 1..5, or a card that no longer parses.
        PermissionDenied: the actor may not approve tasks.
    """
    check_actor(actor)
    if not 1 <= priority <= 5:
        raise ConfigError(
            f"priority {priority} is out of range", field="priority", fix="use 1 (most urgent) to 5"
        )
    require_here(ws, tid)
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        authorise(ws, task, "approve", actor)
        if task.status is not Status.INBOX:
            raise TransitionError(
                f"cannot triage {tid}: it is {task.status.value}, not in the inbox",
                fix=f"triage sets a new task's priority; `aios task status {tid}` shows where it is",
            )
        before, task.priority = task.priority, priority
        _set_card_priority(ws.root / task.card, priority)
        why = f"triage: priority {before} → {priority}" + (f"; {reason}" if reason else "")
        txn.record(task, actor=actor, to=task.status, reason=why, session=session)
    return task


_PRIORITY_LINE = re.compile(r"(?m)^priority:[^\n]*$")


def _set_card_priority(path: Path, priority: int) -> None:
    card = taskcard.load(path)
    text = read_text(path, error=ConfigError)
    front_end = text.index("\n---", 3)  # the closing fence (``taskcard.load`` found it)
    front = text[:front_end]
    if _PRIORITY_LINE.search(front):
        front = _PRIORITY_LINE.sub(f"priority: {priority}", front, count=1)
    else:
        front += f"\npriority: {priority}"
    new = front + text[front_end:]
    changed = taskcard.parse(new, file=path)
    assert changed == card.model_copy(update={"priority": priority})  # only the priority moved
    atomic_write(path, new)


def stop(ws: Workspace, tid: str, *, actor: str, reason: str, authorise: Authorise) -> TaskState:
    """Stop ``tid`` at once: blocked, with an ``emergency_stop`` event, from any active status.

    A task already blocked (an escalated review) stays blocked, now stopped by ``actor``: the
    stop is recorded as a note of that kind, and only a person's ``unblock`` lifts it. Who may
    stop is who may ``block``; entry points call ``governance.actions.stop``.

    Raises:
        StateError: no reason was given.
        TransitionError: the task is done.
        PermissionDenied: the actor may not block it.
    """
    check_actor(actor)
    if not reason.strip():
        raise StateError(f"stopping {tid} needs a reason", fix="pass --reason TEXT")
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        authorise(ws, task, "block", actor)
        if task.status not in (*ACTIVE, Status.BLOCKED):
            raise TransitionError(
                f"cannot stop {tid}: it is {task.status.value}", fix=f"{tid} is done; nothing runs"
            )
        if task.status is not Status.BLOCKED:
            task.blocked_from = task.status
        txn.record(task, actor=actor, to=Status.BLOCKED, reason=reason, kind=EventKind.EMERGENCY_STOP)
    return task


def note(
    ws: Workspace,
    tid: str,
    *,
    actor: str,
    reason: str,
    artifacts: list[str] | None = None,
    session: str | None = None,
    kind: EventKind | None = None,
) -> TaskState:
    """Record an event that changes no status (an artifact produced, a decision taken).

    ``kind`` marks a governance note (``EventKind.DEVIATION``: a deviation declared or used).

    A note already recorded in the actor's current step is not recorded again: a workflow step
    that re-runs after a crash does not repeat itself on the audit trail, even when the crash came
    after the step had also moved the task on (the round's review note, then its verdict's move).
    """
    check_actor(actor)
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        if not _noted_in_this_step(task, actor=actor, reason=reason, artifacts=artifacts or []):
            txn.record(
                task,
                actor=actor,
                to=task.status,
                reason=reason,
                artifacts=artifacts,
                session=session,
                kind=kind,
            )
    return task


DISMISSED = "dismissed finding "


def dismiss(
    ws: Workspace, tid: str, finding_id: str, *, actor: str, reason: str, session: str | None = None
) -> TaskState:
    """Record that ``actor`` dismissed review finding ``finding_id`` of ``tid`` (a note event).

    Only an event of kind ``dismissal`` counts (``dismissed_findings``): a plain note with the same
    words, which any reader of the task may add, dismisses nothing.
    """
    check_actor(actor)
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        text = f"{DISMISSED}{finding_id}: {reason}"
        txn.record(task, actor=actor, to=task.status, reason=text, session=session, kind=EventKind.DISMISSAL)
    return task


def dismissed_findings(task: TaskState) -> dict[str, str]:
    """The finding ids dismissed on ``task``, each with the reason given (the latest, if twice)."""
    out: dict[str, str] = {}
    for event in task.events:
        if event.kind is EventKind.DISMISSAL and event.reason and event.reason.startswith(DISMISSED):
            finding_id, _, why = event.reason.removeprefix(DISMISSED).partition(": ")
            out[finding_id] = why
    return out


def violation(ws: Workspace, tid: str, *, actor: str, reason: str, session: str | None = None) -> None:
    """Record a refused attempt on ``tid``'s audit trail (every one: unlike ``note``, never merged)."""
    check_actor(actor)
    with open_store(ws).transaction() as txn:
        task = txn.task(tid)
        txn.record(
            task, actor=actor, to=task.status, reason=reason, session=session, kind=EventKind.VIOLATION
        )


def _noted_in_this_step(task: TaskState, *, actor: str, reason: str, artifacts: list[str]) -> bool:
    """Whether the same note is among the task's latest events, all recorded by ``actor``.

    A step's events all carry its actor; the first event by someone else ends the search, so the
    same note in a later round (after the builder or a human acted) is recorded again.
    """
    for event in reversed(task.events):
        if event.actor != actor:
            return False
        if event.from_ is event.to and (event.reason, event.artifacts) == (reason, artifacts):
            return True
    return False


def get(ws: Workspace, tid: str, *, keep: bool = False) -> TaskState:
    """Read one task (no lock), after recording a hand edit of the index (``Store.settle``).

    ``keep``: read it through the scan cache and keep it there (``scan.task_of``), for a command
    that only shows it: its next look is a cache row (``peek.task``).

    Raises:
        StateError: no such task; for an id re-filed into another queue, naming its new id.
    """
    store = open_store(ws)
    store.settle()
    require_here(ws, tid)
    keep = keep and isinstance(store, Store)  # the scan cache keeps task files, not database rows
    return scan.task_of(ws, tid) if keep else store.read_task(tid)


def require_here(ws: Workspace, tid: str) -> None:
    """Refuse an id whose task was re-filed into another queue, naming where it went.

    Raises:
        StateError: ``tid`` was re-filed (``aios task triage --queue``) and its task file is gone.
    """
    if task_exists(ws, tid) or (record := refiled.find(ws, tid)) is None:
        return
    now_id = refiled.current_id(ws, tid)
    raise StateError(
        f"{tid} was re-filed as {record.new} (queue {record.from_queue} → {record.to_queue}) "
        f"at {record.at} by {record.by}",
        fix=f"use {now_id}: `aios task status {now_id}`",
    )


@_gc.pausing
def listing(ws: Workspace, *, include_done: bool = False) -> list[dict[str, object]]:
    """``id``, ``status``, ``queue``, ``priority`` and ``title`` of the live tasks (or of all tasks).

    A task file edited by hand since it was indexed is read: the list never shows a status its
    task file contradicts.
    """
    store = open_store(ws)
    if not isinstance(store, Store):  # PostgreSQL: the columns say it, no task document read
        return store.summaries(include_done=include_done)
    if include_done:
        found = scan.scan(ws)  # unchanged files come from the scan cache
        if found.errors:
            raise found.errors[0]
        return [_summary(t.id, t.status, t.queue, t.priority, t.title) for t in found.tasks]
    index = store.index()
    rows = []
    for tid, e in sorted(index.tasks.items()):
        if _mtime(ws.task_file(tid)) != e.mtime:
            t = store.read_task(tid)
            rows.append(_summary(tid, t.status, t.queue, t.priority, t.title))
        else:
            rows.append(_summary(tid, e.status, e.queue, e.priority, e.title))
    return [r for r in rows if r["status"] != Status.DONE.value]


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _summary(tid: str, status: Status, queue: str, priority: int, title: str) -> dict[str, object]:
    return {"id": tid, "status": status.value, "queue": queue, "priority": priority, "title": title}


def free_id(ws: Workspace, txn: Txn, queue: str) -> str:
    """The next id of ``queue`` no task, TaskCard or re-file (old id or new) has used."""
    used = refiled.taken(ws)
    while True:
        candidate = task_id(queue, txn.allocate_number(queue))
        taken = ws.task_file(candidate).exists() or (ws.inbox_dir / f"{candidate}.md").exists()
        if not taken and candidate not in used:
            return candidate
