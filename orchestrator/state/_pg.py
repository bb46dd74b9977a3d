"""Connections to the state database, and the reads the task scan needs (``scan`` imports this
module, not ``postgres``, whose store imports ``scan``): one connection per thread of each process,
the schema created on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import psycopg

from orchestrator.errors import StateError
from orchestrator.state.records import TaskState

#: The tables' layout; a database with a newer one is refused (an older aios must not write it).
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS aios_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS aios_workspaces (
  ws text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS aios_tasks (
  ws text NOT NULL REFERENCES aios_workspaces ON DELETE CASCADE, id text NOT NULL,
  queue text NOT NULL, status text NOT NULL, priority integer NOT NULL, title text NOT NULL,
  doc jsonb NOT NULL, mtime_ns bigint NOT NULL, PRIMARY KEY (ws, id));
CREATE INDEX IF NOT EXISTS aios_tasks_live ON aios_tasks (ws, queue, status) WHERE status <> 'done';
CREATE TABLE IF NOT EXISTS aios_events (
  ws text NOT NULL, seq bigint NOT NULL, task_id text NOT NULL, n integer NOT NULL, data jsonb NOT NULL,
  PRIMARY KEY (ws, seq), UNIQUE (ws, task_id, n),
  FOREIGN KEY (ws, task_id) REFERENCES aios_tasks ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS aios_counters (
  ws text NOT NULL REFERENCES aios_workspaces ON DELETE CASCADE, name text NOT NULL,
  position integer NOT NULL, value bigint NOT NULL, PRIMARY KEY (ws, name));
CREATE TABLE IF NOT EXISTS aios_queues (
  ws text NOT NULL REFERENCES aios_workspaces ON DELETE CASCADE, name text NOT NULL,
  position integer NOT NULL, lock text, locked_by text, locked_at text, reason text,
  PRIMARY KEY (ws, name));
CREATE TABLE IF NOT EXISTS aios_freeze (
  ws text PRIMARY KEY REFERENCES aios_workspaces ON DELETE CASCADE, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS aios_agents (
  ws text NOT NULL REFERENCES aios_workspaces ON DELETE CASCADE, id text NOT NULL,
  position integer NOT NULL, state text NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (ws, id));
CREATE TABLE IF NOT EXISTS aios_sessions (
  ws text NOT NULL REFERENCES aios_workspaces ON DELETE CASCADE, id text NOT NULL,
  position integer NOT NULL, state text NOT NULL, agent_id text NOT NULL, expires_at text NOT NULL,
  doc jsonb NOT NULL, PRIMARY KEY (ws, id));
"""


# One connection per thread of each process: a transaction is the connection's, so two threads
# (the web server's) must not interleave theirs, and a forked writer must not reuse its parent's.
_local = threading.local()
_inherited: list[Any] = []


def _forget_in_child() -> None:
    # A forked child must not talk on its parent's sockets, nor close them (closing says goodbye
    # to the server on the parent's behalf): keep the objects alive, unused, and connect anew.
    _inherited.append(_local.__dict__.pop("conns", None))


os.register_at_fork(after_in_child=_forget_in_child)


class _Connection(psycopg.Connection[Any]):
    """A connection whose lost server is a user's error with a fix, not a crash: every statement
    aios runs goes through ``execute``, and a failed one rolls its transaction back whole."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().execute(*args, **kwargs)
        except psycopg.OperationalError as exc:
            raise StateError(
                f"the state database stopped answering: {' '.join(str(exc).split())}",
                fix="check that PostgreSQL is running and reachable (AIOS_STATE_URL or backends.state "
                "in state/project.yaml), then run the command again: nothing was half written",
            ) from None


def connect(url: str) -> psycopg.Connection[Any]:
    """This thread's connection to ``url`` (autocommit: reads see the latest commit), schema ready."""
    cache: dict[tuple[int, str], psycopg.Connection[Any]] = _local.__dict__.setdefault("conns", {})
    key = (os.getpid(), url)
    conn = cache.get(key)
    if conn is None or conn.closed or conn.broken:  # a server restart: connect again
        conn = cache[key] = _open(url)
    return conn


def _open(url: str) -> psycopg.Connection[Any]:
    try:
        conn = _Connection.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StateError(
            f"cannot connect to the state database: {' '.join(str(exc).split())}",
            fix="start PostgreSQL, or point AIOS_STATE_URL (or backends.state in state/project.yaml) "
            "at a running server",
        ) from None
    _create_schema(conn)
    return conn


def _create_schema(conn: psycopg.Connection[Any]) -> None:
    if _schema_version(conn) == SCHEMA_VERSION:
        return  # the usual case: one query, no DDL for every process that connects
    with conn.transaction():
        # Two processes creating the tables at once would collide on the catalog: one at a time.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('aios schema'))")
        conn.execute(_SCHEMA)
        row = conn.execute("SELECT max(version) FROM aios_schema").fetchone()
        found = row[0] if row else None
        if found is None:
            conn.execute("INSERT INTO aios_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        elif found > SCHEMA_VERSION:
            raise StateError(
                f"the state database has schema version {found}; this aios knows {SCHEMA_VERSION}",
                fix="upgrade aios on this machine (`pip install -U ai-workflow-os`)",
            )


def _schema_version(conn: psycopg.Connection[Any]) -> int | None:
    """The database's schema version; None before the tables exist."""
    exists = conn.execute("SELECT to_regclass('aios_schema') IS NOT NULL").fetchone()
    if not (exists and exists[0]):
        return None
    row = conn.execute("SELECT max(version) FROM aios_schema").fetchone()
    return row[0] if row else None


#: Tasks with their events (in order) as one row each: one statement reads a consistent snapshot.
TASKS = (
    "SELECT t.id, t.doc, coalesce((SELECT jsonb_agg(e.data ORDER BY e.n) FROM aios_events e"
    " WHERE e.ws = t.ws AND e.task_id = t.id), '[]'::jsonb) FROM aios_tasks t WHERE t.ws = %s"
)


def all_tasks(url: str, key: str) -> Iterator[TaskState]:
    """Every task of workspace ``key``, in id order, read in one statement."""
    rows = connect(url).execute(TASKS, (key,)).fetchall()
    for _, doc, events in sorted(rows, key=lambda r: str(r[0])):
        yield TaskState.model_validate({**doc, "events": events})
