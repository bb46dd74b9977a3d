"""The shared state in PostgreSQL: the YAML store's interface over real tables, for many machines.

Selected by ``AIOS_STATE_URL`` or ``backends.state`` (``backends.state_url``) through
``stores.open_store``; imported only then, so the embedded default never loads psycopg. Every row
is keyed by the workspace id (``backends.workspace_id``), so workspaces can share one database::

    aios_workspaces  one row per workspace: the row every write locks (see ``transaction``)
    aios_tasks       a task's fields (queue, status, priority, title as columns) and its document
    aios_events      every event: seq (unique and gap-free per workspace), task, position, data
    aios_counters    the event seq and each queue's next task number
    aios_queues      each queue's lock
    aios_freeze      the system freeze in force
    aios_agents      registered agents (``state/agents.yaml`` in the YAML store)
    aios_sessions    agent sessions (``state/sessions.yaml``)

The audit trail lives in ``aios_events``: ``ops/audit/<ID>.md`` is its readable view, derived from
the events (each line and its chain link depend only on them), so it reads the same on every
machine. A machine appends what its local view lacks whenever it writes the task, and
``aios state export`` writes every trail whole. The governance log and freeze records stay files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from orchestrator.errors import StateError
from orchestrator.state import _pg, audit, backends
from orchestrator.state._pg import connect
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Freeze, Index, IndexEntry, QueueState, TaskState
from orchestrator.state.store import Rebuilt, Txn
from orchestrator.state.taskcard import TASK_ID
from orchestrator.state.workspace import Workspace

#: Rosters and their columns beside the document (``load_roster``/``save_roster``).
ROSTERS: dict[str, tuple[str, ...]] = {"agents": ("state",), "sessions": ("state", "agent_id", "expires_at")}
_SEQ = "seq"  # the counter row of the event seq; the others are named for their queue (``DEV``)


class PgTxn(Txn):
    """``Txn`` whose tasks are read from and checked against the database, not the task files."""

    def task(self, task_id: str) -> TaskState:
        # No task file a person could have edited: the row is the task (no hand edits to take in).
        if task_id not in self._tasks:
            self._tasks[task_id] = self.store.read_task(task_id)
        return self._tasks[task_id]

    def add(self, task: TaskState) -> None:
        store: PgStore = self.store  # type: ignore[assignment]
        if task.id in self._tasks or store.has_task(task.id):
            raise StateError(f"task {task.id} already exists", fix="use another id")
        self._tasks[task.id] = task
        self._dirty[task.id] = 0


class PgStore:
    """The state of one workspace in PostgreSQL, with the YAML ``Store``'s interface."""

    def __init__(self, ws: Workspace, url: str) -> None:
        self.ws = ws
        self.url = url
        self.key = backends.workspace_id(ws)

    @property
    def conn(self) -> psycopg.Connection[Any]:
        return connect(self.url)

    # ---- reads ----

    def has_task(self, task_id: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM aios_tasks WHERE ws = %s AND id = %s", (self.key, task_id))
        return row.fetchone() is not None

    def holds_state(self) -> bool:
        """Whether the database holds any state of this workspace (tasks, agents or sessions)."""
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM aios_tasks WHERE ws = %(w)s)"
            " OR EXISTS (SELECT 1 FROM aios_agents WHERE ws = %(w)s)"
            " OR EXISTS (SELECT 1 FROM aios_sessions WHERE ws = %(w)s)",
            {"w": self.key},
        ).fetchone()
        return bool(row and row[0])

    def read_task(self, task_id: str) -> TaskState:
        """One task with its events, read in one statement (one snapshot: a commit cannot fall between)."""
        row = self.conn.execute(_pg.TASKS + " AND t.id = %s", (self.key, task_id)).fetchone()
        if row is None:
            raise StateError(f"no task {task_id}", fix="check the id with `aios task list --all`")
        return TaskState.model_validate({**row[1], "events": row[2]})

    def all_tasks(self) -> Iterator[TaskState]:
        """Every task, in id order: two queries, however many tasks."""
        return _pg.all_tasks(self.url, self.key)

    def summaries(self, *, include_done: bool) -> list[dict[str, object]]:
        """``id``, ``status``, ``queue``, ``priority``, ``title`` from the columns (no document read)."""
        where = "" if include_done else " AND status <> 'done'"
        rows = self.conn.execute(
            f"SELECT id, status, queue, priority, title FROM aios_tasks WHERE ws = %s{where}",  # noqa: S608 - a constant
            (self.key,),
        ).fetchall()
        keys = ("id", "status", "queue", "priority", "title")
        return [dict(zip(keys, row, strict=True)) for row in sorted(rows, key=lambda r: str(r[0]))]

    def read_index(self) -> Index:
        """The index as the YAML store keeps it: freeze, counters, queue locks and live tasks."""
        index = self.peek_locks()
        rows = self.conn.execute(
            "SELECT id, status, queue, priority, title FROM aios_tasks WHERE ws = %s AND status <> 'done'",
            (self.key,),
        )
        for tid, status, queue, priority, title in rows:
            # mtime 0: there is no task file to compare (readers of mtime see no hand edit).
            index.tasks[tid] = IndexEntry(status=Status(status), queue=queue, priority=priority, title=title)
        index.tasks = dict(sorted(index.tasks.items()))
        return index

    def index(self) -> Index:
        return self.read_index()

    def read_locks(self) -> Index:
        return self.peek_locks()

    def peek_locks(self) -> Index:
        """The freeze, counters and queue locks (no tasks)."""
        index = Index()
        row = self.conn.execute("SELECT doc FROM aios_freeze WHERE ws = %s", (self.key,)).fetchone()
        index.frozen = Freeze.model_validate(row[0]) if row else None
        for name, value in self.conn.execute(
            "SELECT name, value FROM aios_counters WHERE ws = %s ORDER BY position", (self.key,)
        ):
            if name == _SEQ:
                index.seq = value
            else:
                index.next_number[name] = value
        for name, lock, by, at, reason in self.conn.execute(
            "SELECT name, lock, locked_by, locked_at, reason FROM aios_queues"
            " WHERE ws = %s ORDER BY position",
            (self.key,),
        ):
            index.queues[name] = QueueState(lock=lock, locked_by=by, locked_at=at, reason=reason)
        for name in self.ws.project.queues:
            index.queues.setdefault(name, QueueState())
        return index

    def settle(self) -> None:
        """Nothing to record: the database has no hand-edited index."""

    def pending_recovery(self) -> set[str]:
        """Always empty: a commit is one database transaction, never left half done."""
        return set()

    def task_mtimes(self) -> dict[str, int]:
        """Each task's last write (ns), which ``aios state export`` gives its task file."""
        rows = self.conn.execute("SELECT id, mtime_ns FROM aios_tasks WHERE ws = %s", (self.key,))
        return {tid: mtime for tid, mtime in rows}

    # ---- writes ----

    @contextmanager
    def locked(self) -> Iterator[psycopg.Connection[Any]]:
        """A database transaction holding this workspace's row lock (released at commit or rollback).

        Every write of the workspace takes it, so writers on any process or machine run one at a
        time, each seeing what the one before committed: the queue limit and the freeze are checked
        and the seq counted against the latest state. Why a row lock (``SELECT ... FOR UPDATE``),
        not an advisory lock: it is the workspace's own row, so no lock number has to be derived
        from the id (hash collisions would tie unrelated workspaces); it lives exactly as long as
        the transaction that checks and writes, so a killed process never leaves it held; and it
        holds behind a transaction-pooling proxy, where session advisory locks do not.
        """
        conn = self.conn
        with conn.transaction():
            conn.execute("INSERT INTO aios_workspaces (ws) VALUES (%s) ON CONFLICT DO NOTHING", (self.key,))
            conn.execute("SELECT 1 FROM aios_workspaces WHERE ws = %s FOR UPDATE", (self.key,))
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Txn]:
        """Lock the workspace, yield a ``Txn`` and commit it in the same database transaction."""
        with self.locked():
            txn = PgTxn(self, self.read_index())  # type: ignore[arg-type]
            before = _non_task_state(txn.index)
            yield txn
            self._commit(txn, before)
        self._write_trails(txn)

    def _commit(self, txn: Txn, before: dict[str, Any]) -> None:
        stamp = time.time_ns()
        for tid, already in txn._dirty.items():
            self._save_task(txn._tasks[tid], already, stamp)
        after = _non_task_state(txn.index)
        if after["seq"] != before["seq"] or after["next_number"] != before["next_number"]:
            self._save_counters(txn.index)
        if after["queues"] != before["queues"]:
            self._save_queues(txn.index)
        if after["frozen"] != before["frozen"]:
            self._save_freeze(txn.index)

    def _save_task(self, task: TaskState, already: int, mtime: int) -> None:
        doc = task.model_dump(mode="json", exclude={"events"})
        self.conn.execute(
            "INSERT INTO aios_tasks (ws, id, queue, status, priority, title, doc, mtime_ns)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (ws, id) DO UPDATE SET"
            " queue = EXCLUDED.queue, status = EXCLUDED.status, priority = EXCLUDED.priority,"
            " title = EXCLUDED.title,"
            " doc = EXCLUDED.doc, mtime_ns = EXCLUDED.mtime_ns",
            (self.key, task.id, task.queue, task.status.value, task.priority, task.title, Jsonb(doc), mtime),
        )
        self.insert_events(task, start=already)

    def insert_events(self, task: TaskState, *, start: int) -> None:
        rows = [
            (self.key, e.seq, task.id, n, Jsonb(e.model_dump(mode="json", by_alias=True)))
            for n, e in enumerate(task.events[start:], start=start + 1)
        ]
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO aios_events (ws, seq, task_id, n, data) VALUES (%s, %s, %s, %s, %s)", rows
                )

    def _save_counters(self, index: Index) -> None:
        counters = [(_SEQ, index.seq), *index.next_number.items()]
        self.conn.execute("DELETE FROM aios_counters WHERE ws = %s", (self.key,))
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO aios_counters (ws, name, position, value) VALUES (%s, %s, %s, %s)",
                [(self.key, name, i, value) for i, (name, value) in enumerate(counters)],
            )

    def _save_queues(self, index: Index) -> None:
        self.conn.execute("DELETE FROM aios_queues WHERE ws = %s", (self.key,))
        rows = [
            (self.key, name, i, q.lock, q.locked_by, q.locked_at, q.reason)
            for i, (name, q) in enumerate(index.queues.items())
        ]
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO aios_queues (ws, name, position, lock, locked_by, locked_at, reason)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows,
            )

    def _save_freeze(self, index: Index) -> None:
        self.conn.execute("DELETE FROM aios_freeze WHERE ws = %s", (self.key,))
        if index.frozen is not None:
            self.conn.execute(
                "INSERT INTO aios_freeze (ws, doc) VALUES (%s, %s)",
                (self.key, Jsonb(index.frozen.model_dump(mode="json"))),
            )

    def save_index(self, index: Index) -> None:
        """Write the index's freeze, counters and queue locks (``migrate``; under ``locked``)."""
        self._save_counters(index)
        self._save_queues(index)
        self._save_freeze(index)

    def insert_task(self, task: TaskState, *, mtime: int) -> None:
        """Add a whole task with its events (``migrate``; under ``locked``)."""
        self._save_task(task, 0, mtime)

    def _write_trails(self, txn: Txn) -> None:
        """Bring this machine's view of each written task's audit trail up to its events."""
        for tid in txn._dirty:
            task = txn._tasks[tid]
            audit.append(self.ws, task, start=min(audit.recorded_count(self.ws, tid), len(task.events)))

    def rebuild_index(self) -> Index:
        return self.rebuild().index

    def rebuild(self) -> Rebuilt:
        """Recount the seq and the task numbers from the tasks; queue locks and the freeze are kept."""
        with self.locked() as conn:
            index = self.read_index()
            row = conn.execute("SELECT max(seq) FROM aios_events WHERE ws = %s", (self.key,)).fetchone()
            index.seq = max(index.seq, row[0] if row and row[0] else 0)
            for tid, queue in conn.execute("SELECT id, queue FROM aios_tasks WHERE ws = %s", (self.key,)):
                number = int(TASK_ID.match(tid).group(2))  # type: ignore[union-attr]
                key = queue.upper()
                index.next_number[key] = max(index.next_number.get(key, 1), number + 1)
            self.save_index(index)
        return Rebuilt(index)

    # ---- agents and sessions ----

    def where(self, kind: str) -> str:
        """How a refusal names a table: ``aios_agents (workspace acme)``."""
        return f"{_roster_table(kind)} (workspace {self.key})"

    def load_roster(self, kind: str) -> list[dict[str, Any]]:
        """The documents of ``agents`` or ``sessions``, in the order they were added."""
        table = _roster_table(kind)
        rows = self.conn.execute(
            f"SELECT doc FROM {table} WHERE ws = %s ORDER BY position",  # noqa: S608 - a known table
            (self.key,),
        )
        return [row[0] for row in rows]

    def save_roster(self, kind: str, docs: list[dict[str, Any]]) -> None:
        """Replace the roster (call under ``locked``)."""
        table, columns = _roster_table(kind), ROSTERS[kind]
        self.conn.execute(f"DELETE FROM {table} WHERE ws = %s", (self.key,))  # noqa: S608 - a known table
        names = ", ".join(("ws", "id", "position", *columns, "doc"))
        marks = ", ".join(["%s"] * (4 + len(columns)))
        rows = [
            (self.key, doc["id"], i, *(str(doc[c]) for c in columns), Jsonb(doc))
            for i, doc in enumerate(docs)
        ]
        with self.conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608

    def drop_workspace(self) -> None:
        """Delete every row of this workspace (``aios state migrate --to yaml``, after writing the files)."""
        with self.conn.transaction():
            self.conn.execute("DELETE FROM aios_workspaces WHERE ws = %s", (self.key,))


def _roster_table(kind: str) -> str:
    if kind not in ROSTERS:
        raise ValueError(f"unknown roster {kind!r}")
    return f"aios_{kind}"


def _non_task_state(index: Index) -> dict[str, Any]:
    """What a transaction may change besides tasks, to write only what changed."""
    return {
        "seq": index.seq,
        "next_number": dict(index.next_number),
        "queues": [(n, q.model_dump(exclude={"running"})) for n, q in index.queues.items()],
        "frozen": index.frozen.model_dump() if index.frozen else None,
    }
