"""Lifecycle, audit trail and rebuild through the task services (queue rules: test_queues.py)."""

from __future__ import annotations

import pytest
from helpers import agent_session, new_task, ready_task

from orchestrator.errors import StateError, TransitionError
from orchestrator.governance import actions
from orchestrator.state import queues, tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace


def test_ids_are_allocated_per_queue(ws: Workspace) -> None:
    assert [new_task(ws), new_task(ws), new_task(ws, "data")] == [
        "TASK_DEV_0001",
        "TASK_DEV_0002",
        "TASK_DATA_0001",
    ]
    assert (ws.inbox_dir / "TASK_DEV_0002.md").is_file()


def test_full_lifecycle_records_every_event(ws: Workspace) -> None:
    tid = ready_task(ws)
    for action in ("start", "submit", "finish", "merge"):
        actions.transition(ws, tid, action, actor="alice")
    task = tasks.get(ws, tid)
    assert task.status is Status.DONE
    moves = [(e.from_, e.to) for e in task.events]
    assert moves == [
        (None, "inbox"),
        ("inbox", "ready"),
        ("ready", "running"),
        ("running", "code_review"),
        ("code_review", "reviewing"),
        ("reviewing", "done"),
    ]
    assert all(e.actor == "alice" and e.at for e in task.events)
    assert tid not in Store(ws).read_index().tasks  # done tasks leave the live index


def test_illegal_transition_lists_allowed_actions(ws: Workspace) -> None:
    tid = new_task(ws)
    with pytest.raises(TransitionError) as err:
        actions.transition(ws, tid, "start", actor="alice")
    assert err.value.message == f"cannot start {tid}: it is inbox"
    assert err.value.fix == "from inbox the allowed actions are: approve, block"
    assert tasks.get(ws, tid).status is Status.INBOX  # nothing written


def test_block_needs_reason_and_unblock_returns_to_previous_status(ws: Workspace) -> None:
    tid = ready_task(ws)
    builder = agent_session(ws, "builder-1", scope=[tid])
    actions.transition(ws, tid, "start", actor=builder.actor, session=builder)
    with pytest.raises(StateError, match="needs a reason"):
        actions.transition(ws, tid, "block", actor="alice")
    actions.transition(
        ws, tid, "block", actor=builder.actor, session=builder, reason="waiting for credentials"
    )
    assert queues.status(ws)[2]["running"] == []  # a blocked task frees its slot
    with pytest.raises(TransitionError, match="allowed actions are: unblock"):
        actions.transition(ws, tid, "finish", actor="alice")
    actions.transition(ws, tid, "unblock", actor="bob")
    assert tasks.get(ws, tid).status is Status.RUNNING


def test_audit_trail_has_one_line_per_event_with_actor_kind(ws: Workspace) -> None:
    tid = ready_task(ws)
    builder = agent_session(ws, "builder-1", scope=[tid])
    actions.transition(ws, tid, "start", actor=builder.actor, session=builder)
    tasks.note(
        ws, tid, actor="agent:reviewer", reason="review round 1", artifacts=["ops/reviews/x/round-1.md"]
    )
    lines = (ws.audit_dir / f"{tid}.md").read_text().splitlines()
    entries = [ln for ln in lines if ln.startswith("- #")]
    assert len(entries) == len(tasks.get(ws, tid).events) == 4
    assert f"ready → running · by agent:builder-1 (agent) · session {builder.id} · start" in entries[2]
    assert "note (running) · by agent:reviewer (agent) · review round 1" in entries[3]
    assert "  - artifact: `ops/reviews/x/round-1.md`" in lines


def test_hand_edit_of_a_task_file_reaches_the_index(ws: Workspace) -> None:
    ids = [ready_task(ws) for _ in range(4)]
    for tid in ids[:3]:
        actions.transition(ws, tid, "start", actor="alice")
    # The operating model's emergency stop: set a running task to blocked by hand.
    path = ws.task_file(ids[0])
    path.write_text(path.read_text().replace("status: running", "status: blocked"))
    actions.transition(ws, ids[3], "start", actor="alice")  # the slot it held is free again
    assert Store(ws).read_index().tasks[ids[0]].status is Status.BLOCKED


def test_rebuild_keeps_locks_and_restores_a_lost_index(ws: Workspace) -> None:
    ids = [ready_task(ws) for _ in range(2)]
    actions.transition(ws, ids[0], "start", actor="alice")
    actions.set_lock(ws, ["data"], locked=True, actor="alice")
    before = Store(ws).read_index()
    assert Store(ws).rebuild_index().queues["data"].lock == "SYSTEM_LOCK"
    ws.index_file.write_text("tasks: [this is not an index\n")
    after = Store(ws).rebuild_index()
    assert after.tasks.keys() == before.tasks.keys()
    assert after.seq == before.seq and after.next_number == before.next_number
    assert new_task(ws) == "TASK_DEV_0003"


def test_the_same_note_twice_in_a_row_is_recorded_once(ws: Workspace) -> None:
    tid = new_task(ws)
    for _ in range(2):
        tasks.note(ws, tid, actor="agent:reviewer", reason="review round 1: APPROVED", artifacts=["r1.md"])
    tasks.note(ws, tid, actor="agent:reviewer", reason="review round 2: APPROVED", artifacts=["r2.md"])
    reasons = [e.reason for e in tasks.get(ws, tid).events]
    assert reasons == ["TaskCard created", "review round 1: APPROVED", "review round 2: APPROVED"]


def test_a_done_task_cannot_be_stopped(ws: Workspace) -> None:
    tid = ready_task(ws)
    for action in ("start", "submit", "finish", "merge"):
        actions.transition(ws, tid, action, actor="alice")
    with pytest.raises(TransitionError) as caught:
        actions.stop(ws, tid, actor="alice", reason="too late")
    assert (caught.value.message, caught.value.fix) == (
        f"cannot stop {tid}: it is done",
        f"{tid} is done; nothing runs",
    )
