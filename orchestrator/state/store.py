"""The only reader and writer of ``state/``: one YAML file per task plus a small derived index.

    state/tasks/<TASK_ID>.yaml   the task: fields, status and every event (the source of truth)
    state/tasks.yaml             index: queue locks, live (not done) tasks, id counters, event seq

Every write happens in a ``transaction``: take the state lock, recover an interrupted commit,
pick up hand edits of live task files (their mtime moved), apply changes, then write each file
atomically. A commit first records the task ids it touches in ``state/.journal``; a process killed
midway leaves the journal behind and the next transaction re-derives those index entries, the
event seq and task-number counters and the missing audit lines from the task files, which are
always written first.
"""

from __future__ import annotations

import json
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
from orchestrator.state import audit
from orchestrator.state.audit import check_actor
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import SYSTEM_LOCK, Event, Index, IndexEntry, QueueState, TaskState, now
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

    def __init__(self, store: Store, index: Index) -> None:
        self.store = store
        self.index = index
        self._tasks: dict[str, TaskState] = {}
        self._dirty: dict[str, int] = {}  # task id -> number of events already on the audit trail
        self.index_dirty = False

    def task(self, task_id: str) -> TaskState:
        """The task, read once per transaction."""
        if task_id not in self._tasks:
            self._tasks[task_id] = self.store.read_task(task_id)
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
    ) -> Event:
        """Append an event moving ``task`` to ``to`` (or a note when ``to`` is its status).

        The first event of a new task has no ``from``: it records the creation.

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

    # ---- reads: no lock needed, files are replaced atomically ----

    def read_task(self, task_id: str) -> TaskState:
        """Read and validate one task file."""
        path = self.ws.task_file(task_id)
        try:
            text = read_text(path, file=self.ws.rel(path))
        except FileNotFoundError:
            raise StateError(f"no task {task_id}", fix="check the id with `aios task list --all`") from None
        return self._parse_task(text, path)

    def read_index(self) -> Index:
        """Read and validate ``state/tasks.yaml``."""
        path = self.ws.index_file
        try:
            text = read_text(path, file=self.ws.rel(path))
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
        """Every task file, in id order (slow at scale: never on a hot path)."""
        for path in sorted(self.ws.tasks_dir.glob("TASK_*.yaml")):
            yield self._parse_task(read_text(path, file=self.ws.rel(path)), path)

    # ---- writes ----

    @contextmanager
    def transaction(self) -> Iterator[Txn]:
        """Lock the state, yield a ``Txn`` and commit it when the block ends without error."""
        with exclusive(self._lock_file):
            index = self.read_index()
            txn = Txn(self, index)
            self._recover(txn)
            self._refresh_hand_edits(txn)
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
            locks, salvaged = self._locks_to_keep()
            index = Index(queues=locks)
            for task in self.all_tasks():
                self._absorb(index, task)
            self._write_index(index)
            self._journal.unlink(missing_ok=True)
            return Rebuilt(index, salvaged)

    # ---- internals ----

    def _parse_task(self, text: str, path: Path) -> TaskState:
        rel = self.ws.rel(path)
        data = _yaml.load(text, file=rel, error=StateError)
        task = _yaml.validate(TaskState, data, file=rel, text=text, error=StateError)
        if path.stem != task.id:
            raise StateError(
                f"the file holds task {task.id}",
                file=rel,
                field="id",
                fix=f"set id back to {path.stem}, or rename the file to {task.id}.yaml",
            )
        return task

    def _commit(self, txn: Txn) -> None:
        if not txn._dirty and not txn.index_dirty:
            return
        atomic_write(self._journal, "".join(f"{tid}\n" for tid in txn._dirty))
        for number, tid in enumerate(txn._dirty):
            task = txn._tasks[tid]
            try:
                atomic_write(self.ws.task_file(tid), task.to_yaml())
            except StateError:
                if number == 0:  # nothing written yet (a full disk): no commit to recover later
                    self._journal.unlink(missing_ok=True)
                raise
            self._index_task(txn.index, task)
        self._write_index(txn.index)
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
                audit.append(self.ws, task, start=audit.recorded_count(self.ws, tid))
        self._write_index(txn.index)
        self._journal.unlink(missing_ok=True)

    def _refresh_hand_edits(self, txn: Txn) -> None:
        for tid, entry in list(txn.index.tasks.items()):
            try:
                mtime = os.stat(self.ws.task_file(tid)).st_mtime_ns
            except FileNotFoundError:
                raise StateError(
                    f"the index lists {tid} but its file is gone",
                    file=self.ws.rel(self.ws.task_file(tid)),
                    fix="restore it from a backup, or run `aios state rebuild` to drop it from the index",
                ) from None
            if mtime != entry.mtime:
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

    def _write_index(self, index: Index) -> None:
        for name in self.ws.project.queues:
            index.queues.setdefault(name, QueueState())
        for name, queue in index.queues.items():
            queue.running = index.running(name)
        atomic_write(self.ws.index_file, render_index(index))


_HEADER = """\
# Task index, derived from state/tasks/*.yaml; `aios state rebuild` regenerates it.
# Task status lives in state/tasks/<TASK_ID>.yaml: change it there or with `aios task ...`.
# Emergency stop of a queue by hand: set it to SYSTEM_LOCK (e.g. `  dev: SYSTEM_LOCK`).
"""


def render_index(index: Index) -> str:
    """The index as YAML, one flow-style line per queue and per live task.

    Hand-rolled because PyYAML's dumper took 11 ms for 200 live tasks; this is one f-string a line.
    """
    lines = [
        _HEADER.rstrip("\n"),
        "schema_version: 1",
        f"seq: {index.seq}",
        f"next_number: {_flow(index.next_number)}",
        "queues:",
        *(f"  {name}: {_flow(q.model_dump(exclude_none=True))}" for name, q in index.queues.items()),
        "tasks:" if index.tasks else "tasks: {}",
        *(f"  {tid}: {_flow(e.model_dump(mode='json'))}" for tid, e in sorted(index.tasks.items())),
    ]
    return "\n".join(lines) + "\n"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


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
