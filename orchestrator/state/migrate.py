"""``aios state export`` and ``aios state migrate``: the YAML view of the state, and moving a
workspace's state between the YAML files and PostgreSQL (and back) without losing anything.

A move holds both sides' locks while it copies (the state file lock and the workspace's row in
the database), so no writer changes either side meanwhile, and the target is written in one go:
the database in one transaction, the files before the database rows are deleted in that same
transaction. The YAML files a move to PostgreSQL leaves behind are kept in
``state/migrated-<time>/`` (nothing is deleted), where no command reads them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator._files import atomic_write, make_dirs
from orchestrator._lock import exclusive
from orchestrator.errors import StateError
from orchestrator.state import _roster, agents, audit, backends, scan, sessions
from orchestrator.state.agents import AgentsFile
from orchestrator.state.project import check_postgres_url
from orchestrator.state.records import Index, QueueState, TaskState
from orchestrator.state.sessions import SessionsFile
from orchestrator.state.store import Store, render_index
from orchestrator.state.stores import open_store, shared_store
from orchestrator.state.workspace import Workspace


@dataclass
class Moved:
    """What an export or a migration wrote."""

    tasks: int
    """How many tasks (with every event) it wrote."""
    where: str
    """The folder written, or the database's workspace id."""
    setting: str
    """What the user does next so that every command uses the new backend."""
    kept: str | None = None
    """Where the YAML files moved to PostgreSQL were put aside (relative to the workspace)."""


@dataclass
class _State:
    """A workspace's whole state, read from either backend."""

    index: Index
    tasks: list[TaskState]
    mtimes: dict[str, int]
    agents: AgentsFile
    sessions: SessionsFile


def export(ws: Workspace, to: Path) -> Moved:
    """Write the YAML view of the state under ``to`` (``state/...`` and ``ops/audit/...``).

    The files are what the YAML store would hold: task files, the index, agents and sessions, and
    each task's audit trail; ``cat`` reads them on any machine.
    """
    store = open_store(ws)
    with _roster.locked(ws):
        read = _read_shared(ws) if not isinstance(store, Store) else _read_yaml(ws, store)
        _write_yaml(Workspace(to), read, queues=list(ws.project.queues))
    return Moved(len(read.tasks), str(to), setting="")


def to_postgres(ws: Workspace, url: str) -> Moved:
    """Move the state from the YAML files into the database at ``url`` (one transaction).

    Raises:
        StateError: the YAML files hold no state, the URL is not a PostgreSQL one, or the database
            already holds this workspace's state.
    """
    url = _checked_url(url)
    if not ws.index_file.exists():
        raise StateError(
            "there is no state in YAML files to move: the index is missing",
            file=ws.rel(ws.index_file),
            fix="is the state already in PostgreSQL? `aios state migrate --to yaml` moves it back",
        )
    store = Store(ws)
    with store.transaction():
        pass  # finishes an interrupted commit and records a hand edit of the index first
    from orchestrator.state.postgres import PgStore

    target = PgStore(ws, url)
    with exclusive(ws.state_lock), target.locked():
        _refuse_taken(ws, target)
        read = _read_yaml(ws, store)
        for task in read.tasks:
            target.insert_task(task, mtime=read.mtimes[task.id])
        target.save_index(read.index)
        target.save_roster("agents", _roster.docs(read.agents.agents))
        target.save_roster("sessions", _roster.docs(read.sessions.sessions))
        kept = _put_aside(ws)
    setting = (
        f"every command on every machine must now use the database: set AIOS_STATE_URL={url}, or add "
        f"`backends: {{state: {url}}}` to {ws.rel(ws.project_file)} and commit it"
    )
    return Moved(len(read.tasks), backends.workspace_id(ws), setting=setting, kept=ws.rel(kept))


def to_yaml(ws: Workspace) -> Moved:
    """Move the state from the database back into the YAML files, then delete its rows there.

    Raises:
        StateError: no database is configured, or the YAML files already hold state.
    """
    target = shared_store(ws)
    if target is None:
        raise StateError(
            "the state is already in YAML files (no AIOS_STATE_URL or backends.state is set)",
            fix="set AIOS_STATE_URL to the database that holds this workspace's state",
        )
    with exclusive(ws.state_lock), target.locked():
        _refuse_yaml_taken(ws)
        read = _read_shared(ws)
        _write_yaml(ws, read, queues=list(ws.project.queues))
        target.conn.execute("DELETE FROM aios_workspaces WHERE ws = %s", (target.key,))
    unset = "unset AIOS_STATE_URL and " if os.environ.get("AIOS_STATE_URL") else ""
    setting = (
        f"{unset}remove `backends.state` from {ws.rel(ws.project_file)} if it is set: "
        "the YAML files hold the state again"
    )
    return Moved(len(read.tasks), ws.rel(ws.state_dir), setting=setting)


# ---- reading ----


def _read_yaml(ws: Workspace, store: Store) -> _State:
    found = scan.scan(ws)
    if found.errors:
        raise found.errors[0]
    task_list = [store.read_task(t.id) for t in found.tasks]
    return _State(
        index=store.read_index(),
        tasks=task_list,
        mtimes={t.id: os.stat(ws.task_file(t.id)).st_mtime_ns for t in task_list},
        agents=_roster.load(ws, ws.agents_file, AgentsFile),
        sessions=_roster.load(ws, ws.sessions_file, SessionsFile),
    )


def _read_shared(ws: Workspace) -> _State:
    store = shared_store(ws)
    assert store is not None  # callers checked
    return _State(
        index=store.read_index(),
        tasks=list(store.all_tasks()),
        mtimes=store.task_mtimes(),
        agents=agents.load(ws),
        sessions=sessions.load(ws),
    )


# ---- writing ----


def _write_yaml(view: Workspace, read: _State, *, queues: list[str]) -> None:
    """The files the YAML store keeps, each task file with its last write's time (the index says it)."""
    make_dirs(view.tasks_dir)
    for task in read.tasks:
        path = view.task_file(task.id)
        atomic_write(path, task.to_yaml())
        if mtime := read.mtimes.get(task.id):
            os.utime(path, ns=(mtime, mtime))
    index = read.index
    for tid, entry in index.tasks.items():  # entries are frozen: each is replaced, not changed
        index.tasks[tid] = entry.model_copy(update={"mtime": os.stat(view.task_file(tid)).st_mtime_ns})
    for name in queues:
        index.queues.setdefault(name, QueueState())
    for name, queue in index.queues.items():
        queue.running = index.running(name)
    atomic_write(view.index_file, render_index(index))
    agents.write_file(view.agents_file, read.agents)
    sessions.write_file(view.sessions_file, read.sessions)
    for task in read.tasks:
        audit.append(view, task, start=min(audit.recorded_count(view, task.id), len(task.events)))


def _put_aside(ws: Workspace) -> Path:
    """Move the YAML state files into ``state/migrated-<n>/``: kept, and read by no command."""
    n = 1
    while (aside := ws.state_dir / f"migrated-{n}").exists():
        n += 1
    make_dirs(aside)
    for path in (ws.tasks_dir, ws.index_file, ws.agents_file, ws.sessions_file):
        if path.exists():
            shutil.move(str(path), str(aside / path.name))
    return aside


# ---- refusals ----


def _checked_url(url: str) -> str:
    try:
        return check_postgres_url(url)
    except ValueError as exc:
        raise StateError(
            f"--to: {exc}", fix="write --to postgresql://USER@HOST:PORT/DATABASE, or --to yaml"
        ) from None


def _refuse_taken(ws: Workspace, target: object) -> None:
    from orchestrator.state.postgres import PgStore

    assert isinstance(target, PgStore)
    if target.holds_state():
        raise StateError(
            f"the database already holds the state of workspace {target.key}",
            file=ws.rel(ws.project_file),
            field="id",
            fix="use that database as it is (set AIOS_STATE_URL), move it back first with "
            "`aios state migrate --to yaml`, or migrate into another database",
        )


def _refuse_yaml_taken(ws: Workspace) -> None:
    taken = [p for p in (ws.index_file, ws.agents_file, ws.sessions_file) if _holds_state(ws, p)]
    if ws.tasks_dir.is_dir() and any(ws.tasks_dir.glob("TASK_*.yaml")):
        taken.insert(0, ws.tasks_dir)
    if taken:
        raise StateError(
            f"the YAML files already hold state: {', '.join(ws.rel(p) for p in taken)}",
            file=ws.rel(taken[0]),
            fix="move them aside (e.g. into state/old/) and run `aios state migrate --to yaml` again",
        )


def _holds_state(ws: Workspace, path: Path) -> bool:
    if not path.exists():
        return False
    if path == ws.index_file:
        return True
    model = AgentsFile if path == ws.agents_file else SessionsFile
    roster = _roster.load(ws, path, model)
    return bool(getattr(roster, "agents", None) or getattr(roster, "sessions", None))
