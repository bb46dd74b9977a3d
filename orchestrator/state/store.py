"""The only reader and writer of ``state/``: one YAML file per task plus a small derived index.

    state/tasks/<TASK_ID>.yaml   the task: fields, status and every event (the source of truth)
    state/tasks.yaml             index: queue locks, live (not done) tasks, id counters, event seq

Every write happens in a ``transaction``: take the state lock, recover an interrupted commit,
record hand edits of the index, apply changes, then write each file atomically. A commit first
records the task ids it touches in ``state/.journal``; a process killed midway leaves the journal
behind and the next transaction re-derives those index entries, the event seq and task-number
counters and the missing audit lines from the task files, which are always written first.

A transition costs the same at any number of live tasks: it reads and writes its task's file and
changes only its own entry of the index. The index is still rewritten whole (one file a person can
edit), but the text each process last read or wrote is remembered parsed, with each entry's line
(``_index``), and a task file read or written again skips PyYAML (``_taskfile``); hand edits of
task files are taken in for the task moved and its queue's slot holders (their mtime moved), not
by a look at every live task's file (``Store._refresh_hand_edits``).

Hand edits of the index (the operating model's emergency procedures) are told from aios's own
writes by a stamp: the index's last line, a comment holding the hash of the lines above it as
aios wrote them and which queues were locked. An index whose lines no longer match it is
reconciled by the next transaction (which writes the edited text back with a new stamp), and readers
(``Store.index``, ``tasks.get``, the run guard) start one when they see it: a task set to
``blocked`` is stopped (a blocked event, kind ``hand_edit`` or ``emergency_stop``), a queue set to
``SYSTEM_LOCK`` (or unlocked) goes on the queue-lock history and the governance log, and any other
change the task files contradict is not applied (logged, the index restored from the task files).
An index edited while a transaction holds the lock makes that commit fail before it writes, so
the hand edit is never silently overwritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import _yaml
from orchestrator._files import atomic_write, make_dirs, read_text
from orchestrator._lock import exclusive
from orchestrator._text import visible
from orchestrator.errors import StateError
from orchestrator.redact import redact
from orchestrator.state import _index, _stamp, _taskfile, audit, scan
from orchestrator.state._index import render_index as render_index  # the index's text: see there
from orchestrator.state.audit import check_actor
from orchestrator.state.lifecycle import ACTIVE, HOLDS_SLOT, Status
from orchestrator.state.records import (
    HAND_EDIT_ACTOR,
    SYSTEM_LOCK,
    Event,
    EventKind,
    Index,
    IndexEntry,
    QueueState,
    TaskState,
    now,
)
from orchestrator.state.taskcard import TASK_ID
from orchestrator.state.workspace import Workspace

#: ``locked_by`` of a queue that ``aios state rebuild`` kept locked because it could not read the old lock.
REBUILD_ACTOR = "aios state rebuild"
_KEPT_LOCKED = "kept locked by `aios state rebuild`: the old index could not be read"


@dataclass
class Rebuilt:
    """What ``Store.rebuild`` wrote."""

    index: Index
    salvaged: dict[str, str] = field(default_factory=dict)
    """Queues kept locked only because the old index could not be read: name -> why
    (``it reads `dev: SYSTEM-LOCK```, ``it is not text (...)``)."""


class Txn:
    """Changes made under the state lock; written when the ``transaction`` block ends cleanly."""

    def __init__(self, store: Store, index: Index, index_hash: str = "") -> None:
        self.store = store
        self.index = index
        self.index_hash = index_hash
        """The hash of the index file as this transaction read (or last wrote) it."""
        self._tasks: dict[str, TaskState] = {}
        self._dirty: dict[str, int] = {}  # task id -> number of events already on the audit trail
        self.index_dirty = False
        self._fresh_queues: set[str] = set()  # queues whose slot holders were checked for hand edits

    def task(self, task_id: str) -> TaskState:
        """The task, read once per transaction."""
        if task_id not in self._tasks:
            self._tasks[task_id] = task = self.store.read_task(task_id)
            self.store._refresh_hand_edits(self, task)
        return self._tasks[task_id]

    def add(self, task: TaskState) -> None:
        """Register a new task (its events so far go to the audit trail on commit)."""
        if task.id in self._tasks or self.store.ws.task_file(task.id).exists():
            raise StateError(f"task {task.id} already exists", fix="use another id")
        self._tasks[task.id] = task
        self._dirty[task.id] = 0

    def record(
        self,
        task: TaskState,
        *,
        actor: str,
        to: Status,
        reason: str | None = None,
        artifacts: list[str] | None = None,
        session: str | None = None,
        kind: EventKind | None = None,
    ) -> Event:
        """Append an event moving ``task`` to ``to`` (or a note when ``to`` is its status).

        The first event of a new task has no ``from``: it records the creation. ``kind`` marks a
        governance event (an emergency stop, a recorded hand edit).

        Raises:
            PermissionDenied: ``actor`` is not a name the audit trail can hold (see ``check_actor``).
        """
        check_actor(actor)  # every event passes here, whichever service or interface recorded it
        self._dirty.setdefault(task.id, len(task.events))
        self.index.seq += 1
        event = Event(
            seq=self.index.seq,
            at=now(),
            actor=actor,
            from_=task.status if task.events else None,
            to=to,
            # The task file, the audit trail (append-only: never scrubbable later) and `task status`.
            reason=redact(reason) if reason else reason,
            artifacts=artifacts or [],
            session=session,
            kind=kind,
        )
        task.events.append(event)
        task.updated_at = event.at
        task.status = to
        return event

    def allocate_number(self, queue: str) -> int:
        """The next free task number of ``queue``."""
        key = queue.upper()
        number = self.index.next_number.get(key, 1)
        self.index.next_number[key] = number + 1
        self.index_dirty = True
        return number


class Store:
    """Reads and writes the state files of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._lock_file = ws.state_lock
        self._journal = ws.journal_file
        self._key = str(ws.index_file)  # the index texts this process knows (``_index.Known``)

    # ---- reads: no lock needed, files are replaced atomically ----

    def read_task(self, task_id: str) -> TaskState:
        """Read and validate one task file."""
        path = self.ws.task_file(task_id)
        try:
            text = read_text(path, file=self.ws.rel(path))
        except FileNotFoundError:
            raise StateError(f"no task {task_id}", fix="check the id with `aios task list --all`") from None
        return _taskfile.read(path, text, lambda: self._parse_task(text, path))

    def read_index(self) -> Index:
        """Read and validate ``state/tasks.yaml`` as it is (a hand edit not recorded yet included)."""
        return self._parse_index(self._index_text())

    def index(self) -> Index:
        """The index, after any hand edit of it has been recorded (``settle``)."""
        self.settle()
        return self.read_index()

    def read_locks(self) -> Index:
        """The index's freeze and queue locks, without its tasks: the run guard's read before every
        step, a few lines parsed instead of one per live task (hand edits recorded first)."""
        self.settle()
        return self.peek_locks()

    def peek_locks(self) -> Index:
        """``read_locks`` without recording a hand edit first: safe under the state lock."""
        text = self._index_text()
        known = _index.recall(self._key, text)
        if known is not None:
            index = _index.copy(known.index)
            index.tasks = {}
            return index
        head, sep, rest = text.partition("\ntasks:")
        if sep and not re.search(r"(?m)^(?:queues|frozen)\s*:", rest):  # else a hand edit moved them
            return self._load_index(head + "\n")
        return self._parse_index(text)

    def settle(self) -> None:
        """Record a hand edit of the index now, if there is one: the next command after the edit
        acts on it (a stopped task, a locked queue), whether it writes or only reads."""
        try:
            text = self._index_text()
        except StateError:
            return  # unreadable: the caller's own read says so, with its fix
        if not self._edited(text):
            return
        try:
            self._parse_index(text)
        except StateError:
            return  # broken, not just edited: the caller's own read of the index says so, with its fix
        with self.transaction():
            pass

    def _index_text(self) -> str:
        path = self.ws.index_file
        try:
            return read_text(path, file=self.ws.rel(path))
        except FileNotFoundError:
            raise StateError(
                "the task index is missing",
                file=self.ws.rel(path),
                fix="run `aios state rebuild` to rebuild it from state/tasks/",
            ) from None
        except StateError as exc:
            exc.message = f"the task index cannot be read: {exc.message}"
            exc.fix = f"{exc.fix}; or run `aios state rebuild` to rebuild it (its queues stay locked)"
            raise

    def _parse_index(self, text: str) -> Index:
        """The index ``text`` holds: from memory when this process read or wrote it last, else
        parsed (aios's own lines without YAML) and remembered."""
        known = _index.recall(self._key, text)
        if known is not None:
            return _index.copy(known.index)
        edited = _stamp.edited(text)
        fast = None if edited else _index.parse_fast(text)
        index, lines = fast if fast is not None else (self._load_index(text), {})
        _index.remember(self._key, text, index, edited=edited, lines=lines)
        return index

    def _edited(self, text: str) -> bool:
        known = _index.recall(self._key, text)
        return known.edited if known is not None else _stamp.edited(text)

    def _digest(self, text: str) -> str:
        known = _index.recall(self._key, text)
        return known.digest if known is not None else _stamp.digest(text)

    def _load_index(self, text: str) -> Index:
        path = self.ws.index_file
        data = _yaml.load(text, file=self.ws.rel(path), error=StateError)
        try:
            return _yaml.validate(Index, data or {}, file=self.ws.rel(path), text=text, error=StateError)
        except StateError as exc:
            exc.fix = f"{exc.fix}; or run `aios state rebuild` to rebuild the index from state/tasks/"
            raise

    def pending_recovery(self) -> set[str]:
        """Task ids of a commit a killed process left half done (recovered by the next write)."""
        try:
            return set(read_text(self._journal, file=self.ws.rel(self._journal)).split())
        except FileNotFoundError:
            return set()

    def all_tasks(self) -> Iterator[TaskState]:
        """Every task file, in id order (an unchanged file comes from the scan cache: ``scan.tasks``)."""
        return scan.tasks(self.ws)

    # ---- writes ----

    @contextmanager
    def transaction(self) -> Iterator[Txn]:
        """Lock the state, yield a ``Txn`` and commit it when the block ends without error."""
        with exclusive(self._lock_file):
            text = self._index_text()
            txn = Txn(self, self._parse_index(text), self._digest(text))
            self._recover(txn)
            if self._edited(text):
                self._reconcile(txn, _stamp.stamp(text))
            yield txn
            self._commit(txn)

    def rebuild_index(self) -> Index:
        """Rebuild ``state/tasks.yaml`` from the task files, keeping every queue lock (see ``rebuild``)."""
        return self.rebuild().index

    def rebuild(self) -> Rebuilt:
        """Rebuild ``state/tasks.yaml`` from the task files; a queue that may have been locked stays locked.

        Locks of a readable index are kept as they are. When the old index does not parse (or
        holds a misspelt lock such as ``SYSTEM-LOCK``), every queue whose lines mention a lock is
        kept locked; when it cannot be read as text at all, every queue is. An emergency stop is
        never lifted by a repair: a member unlocks it explicitly.
        """
        make_dirs(self.ws.state_dir)
        with exclusive(self._lock_file):
            self._reconcile_before_rebuild()
            locks, salvaged = self._locks_to_keep()
            index = Index(queues=locks)
            found = scan.scan(self.ws)
            if found.errors:
                raise found.errors[0]
            for facts in found.tasks:
                _absorb_facts(index, facts)
            self._write_index(index)
            self._journal.unlink(missing_ok=True)
            return Rebuilt(index, salvaged)

    # ---- internals ----

    def _parse_task(self, text: str, path: Path) -> TaskState:
        return scan.parse_task(self.ws, text, path)

    def _commit(self, txn: Txn) -> None:
        if not txn._dirty and not txn.index_dirty:
            return
        self._require_unedited(txn)
        atomic_write(self._journal, "".join(f"{tid}\n" for tid in txn._dirty))
        for number, tid in enumerate(txn._dirty):
            task, path = txn._tasks[tid], self.ws.task_file(tid)
            text, chunks = _taskfile.render(path, task)
            try:
                atomic_write(path, text)
            except StateError:
                if number == 0:  # nothing written yet (a full disk): no commit to recover later
                    self._journal.unlink(missing_ok=True)
                raise
            _taskfile.written(path, text, task, chunks)
            self._index_task(txn.index, task)
        txn.index_hash = self._write_index(txn.index)
        for tid, already in txn._dirty.items():
            audit.append(self.ws, txn._tasks[tid], start=already)
        self._journal.unlink(missing_ok=True)

    def _recover(self, txn: Txn) -> None:
        """Finish a commit that a killed process left half done."""
        if not self._journal.exists():
            return
        for tid in sorted(self.pending_recovery()):
            if self.ws.task_file(tid).exists():
                task = self.read_task(tid)
                # The task file may hold events (and a new task number) the index never counted.
                self._absorb(txn.index, task)
                audit.resume(self.ws, task)  # cuts off an audit line the crash tore first
        txn.index_hash = self._write_index(txn.index)
        self._journal.unlink(missing_ok=True)

    def _refresh_hand_edits(self, txn: Txn, task: TaskState) -> None:
        """Take in hand edits of the task files a move relies on: ``task``'s own, and those of its
        queue's slot holders (a slot freed or taken by hand). The other live tasks' files are not
        looked at, so a move costs the same at any number of live tasks; their hand edits reach the
        index when they are next moved or hold a slot here, or at `aios state rebuild`, while
        `aios task list` shows each file's status at once and `aios state check` reports the edit."""
        entry = txn.index.tasks.get(task.id)
        if entry is not None and entry.mtime != _mtime(self.ws.task_file(task.id)):
            self._absorb(txn.index, task)
            txn.index_dirty = True
        if task.queue in txn._fresh_queues:
            return
        txn._fresh_queues.add(task.queue)
        queue = txn.index.queues.get(task.queue)
        # The slot holders as the index was written (a list a few long), not a pass over every entry.
        for tid in queue.running if queue is not None else []:
            if tid in txn._tasks or tid not in txn.index.tasks:
                continue
            mtime = _mtime(self.ws.task_file(tid))
            if not mtime:
                raise StateError(
                    f"the index lists {tid} but its file is gone",
                    file=self.ws.rel(self.ws.task_file(tid)),
                    fix="restore it from a backup, or run `aios state rebuild` to drop it from the index",
                )
            if mtime != txn.index.tasks[tid].mtime:
                self._absorb(txn.index, self.read_task(tid))
                txn.index_dirty = True

    def _absorb(self, index: Index, task: TaskState) -> None:
        """Index ``task`` and raise the seq and number counters past what its file holds."""
        self._index_task(index, task)
        index.seq = max([index.seq, *(e.seq for e in task.events)])
        number = int(TASK_ID.match(task.id).group(2))  # type: ignore[union-attr]
        key = task.queue.upper()
        index.next_number[key] = max(index.next_number.get(key, 1), number + 1)

    def _index_task(self, index: Index, task: TaskState) -> None:
        if task.status is Status.DONE:
            index.tasks.pop(task.id, None)
            return
        mtime = os.stat(self.ws.task_file(task.id)).st_mtime_ns
        index.tasks[task.id] = IndexEntry(
            status=task.status, queue=task.queue, priority=task.priority, title=task.title, mtime=mtime
        )

    def _locks_to_keep(self) -> tuple[dict[str, QueueState], dict[str, str]]:
        """The old index's locks, and the queues kept locked only because it could not be read."""
        try:
            current = self.read_index()
        except StateError:
            salvaged = self._salvage_locks()
            stamp = now()
            kept = QueueState(lock=SYSTEM_LOCK, locked_by=REBUILD_ACTOR, locked_at=stamp, reason=_KEPT_LOCKED)
            return {name: kept.model_copy() for name in salvaged}, salvaged
        return {n: q.model_copy(update={"running": []}) for n, q in current.queues.items() if q.lock}, {}

    def _salvage_locks(self) -> dict[str, str]:
        queue_names = list(self.ws.project.queues)
        try:
            text = self.ws.index_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}  # no old index (a new workspace): no lock to keep
        except (OSError, UnicodeDecodeError) as exc:
            # Not text at all: nothing says which queues were locked, so every queue is (fail safe).
            return dict.fromkeys(queue_names, f"it is not text ({exc})")
        return salvage_locks(text, queue_names)

    def _write_index(self, index: Index) -> str:
        """Write the index (stamped); returns the hash of what was written."""
        for name in self.ws.project.queues:
            index.queues.setdefault(name, QueueState())
        running: dict[str, list[str]] = {}
        for tid, entry in index.tasks.items():  # one pass, not one per queue
            if entry.status in HOLDS_SLOT:
                running.setdefault(entry.queue, []).append(tid)
        for name, queue in index.queues.items():
            queue.running = sorted(running.get(name, []))
        text, lines = _index.render(index, _index.lines_of(self._key))
        atomic_write(self.ws.index_file, text)
        _index.remember(self._key, text, index, edited=False, lines=lines)
        return self._digest(text)

    # ---- hand edits of the index ----

    def _restamp(self, txn: Txn) -> None:
        """Keep the index as the hand edit left it, stamped as recorded (its text, a new last line)."""
        body = _stamp.split(self._index_text())[0]
        text = body + _index.stamp_line(body, txn.index)
        atomic_write(self.ws.index_file, text)
        txn.index_hash = _stamp.digest(text)

    def _require_unedited(self, txn: Txn) -> None:
        """Refuse to overwrite an index edited by hand since this transaction read it."""
        try:
            current = self._digest(self._index_text())
        except StateError:
            current = None
        if txn.index_hash and current != txn.index_hash:
            raise StateError(
                "state/tasks.yaml was edited while this command ran, so nothing was changed",
                file=self.ws.rel(self.ws.index_file),
                fix="run the command again: the hand edit is recorded first",
            )

    def _reconcile(self, txn: Txn, stamp: dict[str, Any] | None) -> None:
        """Record what a hand edit of the index asked for, committed at once (before the command's
        own changes, which may still be refused)."""
        edits = Txn(self, txn.index, txn.index_hash)
        self._reconcile_freeze(txn.index, stamp)
        self._reconcile_locks(txn.index, stamp)
        for tid, entry in list(txn.index.tasks.items()):
            self._reconcile_task(edits, tid, entry)
        if edits._dirty or edits.index_dirty:
            self._commit(edits)
            txn.index_hash = edits.index_hash
        else:  # nothing to change but the stamp: the edit is recorded
            self._restamp(txn)

    def _reconcile_before_rebuild(self) -> None:
        """A rebuild keeps what a hand edit asked for: reconcile a readable, edited index first."""
        try:
            text = self._index_text()
            txn = Txn(self, self._parse_index(text), _stamp.digest(text))
        except StateError:
            return  # unreadable: the rebuild salvages its locks
        if self._edited(text):
            self._reconcile(txn, _stamp.stamp(text))

    def _reconcile_freeze(self, index: Index, stamp: dict[str, Any] | None) -> None:
        record = (stamp or {}).get("frozen")
        if record and index.frozen is None:
            audit.append_governance(
                self.ws, f"the system freeze ({record}) was lifted by a {HAND_EDIT_ACTOR}"
            )
            audit.append_freeze_lifted(self.ws, str(record), actor=HAND_EDIT_ACTOR, reason=None)

    def _reconcile_locks(self, index: Index, stamp: dict[str, Any] | None) -> None:
        before = (stamp or {}).get("locks")
        locked, unlocked = [], []
        for name, queue in index.queues.items():
            # Without a stamp, only a lock aios did not write (no locked_by) is new.
            was = name in before if isinstance(before, list) else queue.locked_by is not None
            if queue.lock and not was and queue.locked_by is None:
                locked.append(name)
            elif was and not queue.lock:
                unlocked.append(name)
        for names, verb in ((locked, "locked"), (unlocked, "unlocked")):
            if names:
                audit.record_queue_locks(self.ws, names, verb=verb, actor=HAND_EDIT_ACTOR, reason=None)
                audit.append_governance(self.ws, _lock_line(names, verb, frozen=index.frozen is not None))

    def _reconcile_task(self, edits: Txn, tid: str, entry: IndexEntry) -> None:
        try:
            task = edits.task(tid)
        except StateError:
            return  # a missing or broken task file: `_refresh_hand_edits` reports it
        if entry.status is Status.BLOCKED and task.status in ACTIVE:
            stop = entry.event == EventKind.EMERGENCY_STOP.value
            reason = entry.reason or f"set to blocked by a {HAND_EDIT_ACTOR}"
            if entry.event and not stop:
                reason += f" (event {entry.event!r} is not one aios knows: emergency_stop is)"
            task.blocked_from = task.status
            kind = EventKind.EMERGENCY_STOP if stop else EventKind.HAND_EDIT
            edits.record(task, actor=HAND_EDIT_ACTOR, to=Status.BLOCKED, reason=reason, kind=kind)
            return
        if entry.mtime != _mtime(self.ws.task_file(tid)):
            return  # the task file itself was edited: `_refresh_hand_edits` takes it as it is
        if (entry.status, entry.queue) != (task.status, task.queue):
            audit.append_governance(
                self.ws,
                f"not applied: a {HAND_EDIT_ACTOR} set {tid} to {entry.status.value} in queue {entry.queue}, "
                f"but its task file says {task.status.value} in queue {task.queue}; only `status: blocked` "
                f"(an emergency stop) is taken from the index: move tasks with `aios task ...`",
            )
            self._index_task(edits.index, task)
            edits.index_dirty = True


def _absorb_facts(index: Index, facts: scan.TaskFacts) -> None:
    """``Store._absorb`` from a scan's facts (no task parsed): the same entry and counters."""
    if facts.status is not Status.DONE:
        index.tasks[facts.id] = IndexEntry(
            status=facts.status,
            queue=facts.queue,
            priority=facts.priority,
            title=facts.title,
            mtime=facts.mtime,
        )
    index.seq = max([index.seq, *facts.seqs])
    number = int(TASK_ID.match(facts.id).group(2))  # type: ignore[union-attr]
    key = facts.queue.upper()
    index.next_number[key] = max(index.next_number.get(key, 1), number + 1)


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return 0


def _lock_line(names: list[str], verb: str, *, frozen: bool) -> str:
    queues = ", ".join(names)
    if verb == "locked":
        return (
            f"queue {queues} set to SYSTEM_LOCK by a {HAND_EDIT_ACTOR}: it starts nothing, and its "
            "running workflows stop at their next step"
        )
    still = (
        " (no effect while the system is frozen: the project owner runs `aios unfreeze`)" if frozen else ""
    )
    return f"queue {queues} unlocked by a {HAND_EDIT_ACTOR}{still}"


# ---- salvaging locks from an index that does not parse ----

_COMMENT = re.compile(r"(?:^|\s)#.*$")
#: A lock key with no value: not evidence of a lock.
_NO_LOCK = re.compile(
    r"(?i)\b(?:lock|locked_by|locked_at)\s*:\s*(?:null|~|false|no|off|''|\"\")?\s*(?=[,}]|$)"
)
#: Anything that reads as a lock, misspelt or not: SYSTEM_LOCK, system-lock, LOCKED, lock: x, frozen.
_LOCK_WORD = re.compile(r"(?i)system[\s_-]*lock|\block(?:ed)?(?:_by|_at)?\b|\bfro?ze[nd]?\b|\bfreeze\b")
_KEY = re.compile(r"^(\s*)([^\s:#]+)\s*:")


def salvage_locks(text: str, queues: list[str]) -> dict[str, str]:
    """Queues that ``text`` (an index that does not parse) may lock: name -> the evidence.

    Fail safe: a line that reads as a lock counts, however it is spelt; a lock that cannot be
    tied to one queue locks every queue. Task entries (their titles are free text) are skipped.
    """
    found: dict[str, str] = {}
    current: tuple[str, int] | None = None  # the queue whose block we are in, and its indent
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw).rstrip()
        if not line.strip() or line.lstrip().startswith("TASK_"):
            continue
        key = _KEY.match(line)
        indent = len(key[1]) if key else len(line) - len(line.lstrip())
        if current and indent <= current[1]:
            current = None
        if key and key[2].strip("'\"") in queues:
            current = (key[2].strip("'\""), indent)
        if not _LOCK_WORD.search(_NO_LOCK.sub("", line)):
            continue
        named = [q for q in queues if re.search(rf"(?<![\w-]){re.escape(q)}(?![\w-])", line)]
        for name in named or ([current[0]] if current else queues):
            found.setdefault(name, f"it reads `{visible(line.strip())[:200]}`")
    return found
