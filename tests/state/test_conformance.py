"""One suite for every state backend: the YAML files and PostgreSQL behave the same to their callers.

Each test runs twice, as ``[yaml]`` and ``[postgresql]`` (a fresh database per test; skipped
outside CI when no test cluster is running, see ``postgres_url`` in conftest).
"""

from __future__ import annotations

import json
import multiprocessing
import random
from pathlib import Path

import pytest
from helpers import agent_session, new_task, ready_task

from orchestrator.errors import AiosError, QueueError, StateError, TransitionError
from orchestrator.governance import actions
from orchestrator.governance import sessions as session_service
from orchestrator.state import agents, freeze, queues, sessions, tasks
from orchestrator.state.check import check_state
from orchestrator.state.lifecycle import HOLDS_SLOT, Status
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace


@pytest.fixture(params=["yaml", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend under test; for PostgreSQL, ``AIOS_STATE_URL`` names a fresh database."""
    if request.param == "postgresql":
        monkeypatch.setenv("AIOS_STATE_URL", request.getfixturevalue("postgres_url"))
    return str(request.param)


@pytest.fixture
def sws(ws: Workspace, backend: str) -> Workspace:
    """The workspace, its state in ``backend``."""
    store = open_store(ws)
    assert type(store).__name__ == {"yaml": "Store", "postgresql": "PgStore"}[backend]
    return ws


def _events(ws: Workspace) -> list[tuple[int, str, Status | None, Status]]:
    found = [(e.seq, t.id, e.from_, e.to) for t in open_store(ws).all_tasks() for e in t.events]
    return sorted(found)


def test_create_and_transition_record_every_event_in_order(sws: Workspace) -> None:
    tid = ready_task(sws)
    actions.transition(sws, tid, "start", actor="alice")

    task = tasks.get(sws, tid)
    assert task.status is Status.RUNNING
    assert [(e.from_, e.to) for e in task.events] == [
        (None, Status.INBOX),
        (Status.INBOX, Status.READY),
        (Status.READY, Status.RUNNING),
    ]
    assert [seq for seq, *_ in _events(sws)] == [1, 2, 3]
    assert tasks.listing(sws) == [
        {"id": tid, "status": "running", "queue": "dev", "priority": 3, "title": "Do a thing"}
    ]
    assert "ready → running" in sws.audit_file(tid).read_text()  # the trail's view on this machine


def test_a_refused_move_changes_nothing(sws: Workspace) -> None:
    tid = new_task(sws)
    with pytest.raises(TransitionError, match=f"cannot start {tid}: it is inbox"):
        actions.transition(sws, tid, "start", actor="alice")
    with pytest.raises(StateError, match="no task TASK_DEV_0099"):
        tasks.get(sws, "TASK_DEV_0099")
    assert [e.to for e in tasks.get(sws, tid).events] == [Status.INBOX]
    assert open_store(sws).read_index().seq == 1


def test_task_numbers_count_up_per_queue(sws: Workspace) -> None:
    ids = [new_task(sws, "dev"), new_task(sws, "dev"), new_task(sws, "data")]
    assert ids == ["TASK_DEV_0001", "TASK_DEV_0002", "TASK_DATA_0001"]
    index = open_store(sws).index()
    assert index.next_number == {"DEV": 3, "DATA": 2}
    assert sorted(index.tasks) == sorted(ids)
    assert [r["id"] for r in tasks.listing(sws, include_done=True)] == sorted(ids)


def test_a_full_queue_refuses_to_start_another_task(sws: Workspace) -> None:
    first, second = ready_task(sws, "data"), ready_task(sws, "data")  # data runs one at a time
    actions.transition(sws, first, "start", actor="alice")
    with pytest.raises(QueueError, match=f"queue data is full: 1 of 1 running \\({first}\\)"):
        actions.transition(sws, second, "start", actor="alice")
    actions.transition(sws, first, "finish", actor="alice")  # reviewing holds no slot
    actions.transition(sws, second, "start", actor="alice")
    assert queues.status(sws)[1]["running"] == [second]


def test_a_locked_queue_and_a_freeze_start_nothing(sws: Workspace) -> None:
    tid = ready_task(sws)
    actions.set_lock(sws, ["dev"], locked=True, actor="alice", reason="incident 42")
    with pytest.raises(QueueError, match="queue dev is locked \\(SYSTEM_LOCK by alice\\) \\(incident 42\\)"):
        actions.transition(sws, tid, "start", actor="alice")
    actions.set_lock(sws, ["dev"], locked=False, actor="alice")

    actions.freeze(sws, actor="alice", reason="audit")
    assert freeze.current(sws) is not None
    with pytest.raises(QueueError, match="the system is frozen since .* by alice \\(audit\\)"):
        actions.transition(sws, tid, "start", actor="alice")
    with pytest.raises(QueueError, match="its queues stay locked until it is lifted"):
        actions.set_lock(sws, ["dev"], locked=False, actor="alice")
    actions.unfreeze(sws, actor="alice")
    assert freeze.current(sws) is None
    actions.transition(sws, tid, "start", actor="alice")
    assert not any(q["locked"] for q in queues.status(sws))


def test_agents_and_sessions_are_kept_and_ended(sws: Workspace) -> None:
    opened = agent_session(sws, "claude", scope=[new_task(sws)])
    assert agents.load(sws).get("claude") is not None
    assert sessions.load(sws).by_id(opened.id).live()  # type: ignore[union-attr]

    session_service.terminate(sws, opened.id, reason="done for today", actor="alice")
    held = sessions.load(sws).by_id(opened.id)
    assert held is not None and not held.live() and held.terminated_by == "alice"


# ---- concurrent writers ----

WORKERS, TASKS = 6, 10


def _hammer(root: str, ids: list[str], seed: int, results: multiprocessing.Queue) -> None:
    """Start, finish and merge tasks of the ``data`` queue (one slot), racing the other workers."""
    ws, rng, done = Workspace(Path(root)), random.Random(seed), 0
    for _ in range(40):
        tid = rng.choice(ids)
        status = tasks.get(ws, tid).status
        action = {Status.READY: "start", Status.RUNNING: "finish", Status.REVIEWING: "merge"}.get(status)
        if action is None:
            continue
        try:
            actions.transition(ws, tid, action, actor="alice")
            done += 1
        except AiosError:
            pass  # the queue is full, or another worker moved the task first: nothing written
    results.put(done)


def test_concurrent_writer_processes_never_exceed_a_queue_limit(sws: Workspace) -> None:
    ids = [ready_task(sws, "data") for _ in range(TASKS)]
    before = len(_events(sws))
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(sws.root), ids, i, results)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0
    succeeded = sum(results.get(timeout=5) for _ in procs)
    assert succeeded > WORKERS  # the workers really moved tasks

    events = _events(sws)
    assert len(events) == before + succeeded  # no event lost
    assert [seq for seq, *_ in events] == list(range(1, len(events) + 1))  # unique, no gap
    running: set[str] = set()
    starts: dict[str, int] = {}
    for _, tid, _, to in events:  # replayed in order, the limit held at every moment
        (running.add if to in HOLDS_SLOT else running.discard)(tid)
        assert len(running) <= 1, f"data ran {sorted(running)} at once"
        starts[tid] = starts.get(tid, 0) + (to is Status.RUNNING)
    assert max(starts.values()) == 1  # no task started twice


def test_state_check_and_the_full_listing_read_every_task(sws: Workspace, cli) -> None:  # type: ignore[no-untyped-def]
    done = ready_task(sws, "data")
    for action in ("start", "finish", "merge"):
        actions.transition(sws, done, action, actor="alice")
    live = new_task(sws)

    assert check_state(sws) == []
    listed = cli("task", "list", "--all", "--json")
    assert [(r["id"], r["status"]) for r in json.loads(listed.output)] == [
        (done, "done"),
        (live, "inbox"),
    ]
    assert [r["id"] for r in tasks.listing(sws)] == [live]  # done tasks only with --all


def test_the_trail_is_written_from_the_events(sws: Workspace, backend: str) -> None:
    tid = ready_task(sws)
    trail = sws.audit_file(tid).read_text()
    sws.audit_file(tid).unlink()  # another machine's view: it never wrote this task
    if backend == "postgresql":
        assert check_state(sws) == []  # the view is brought up to the events table, then verified
        assert sws.audit_file(tid).read_text() == trail
    else:
        assert any("audit" in p.render() for p in check_state(sws))  # the file is the trail


def test_task_commands_find_the_task(sws: Workspace, cli) -> None:  # type: ignore[no-untyped-def]
    tid = ready_task(sws)
    shown = cli("task", "status", tid, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["status"] == "ready"
    started = cli("task", "start", tid)
    assert started.output == f"{tid}: ready → running\n"
    missing = cli("task", "status", "TASK_DEV_0042")
    assert missing.exit_code == 1
    assert "no task TASK_DEV_0042" in missing.output
