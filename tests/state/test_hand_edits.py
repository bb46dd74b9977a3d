"""Hand edits of ``state/tasks.yaml`` (the operating model's emergency procedures) work and are audited.

Setting a task's ``status: blocked`` stops it, a queue's ``SYSTEM_LOCK`` locks it; the next command,
whatever it is, records the edit (the task's trail, the queue-lock history, the governance log).
Any other change the task files contradict is not applied, and ``aios state check`` reports it.
"""

from __future__ import annotations

import re

import pytest
from helpers import new_task, ready_task, run_aios

from orchestrator.errors import QueueError, StateError
from orchestrator.governance import actions
from orchestrator.state import queues, tasks
from orchestrator.state.check import check_state
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import HAND_EDIT_ACTOR, EventKind
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace


def running(ws: Workspace, queue: str = "dev") -> str:
    tid = ready_task(ws, queue)
    actions.transition(ws, tid, "start", actor="alice")
    return tid


def edit_entry(ws: Workspace, tid: str, old: str, new: str) -> None:
    """Edit task ``tid``'s line of the index as a person would, in a text editor."""
    text = ws.index_file.read_text()
    line = re.search(rf"(?m)^  {tid}: .*$", text)
    assert line and old in line[0]
    ws.index_file.write_text(text.replace(line[0], line[0].replace(old, new)))


def edit_queue(ws: Workspace, queue: str, value: str) -> None:
    text = ws.index_file.read_text()
    ws.index_file.write_text(re.sub(rf"(?m)^  {queue}: .*$", f"  {queue}: {value}", text))


def governance_log(ws: Workspace) -> str:
    return ws.governance_log.read_text() if ws.governance_log.exists() else ""


def trail(ws: Workspace, tid: str) -> str:
    return ws.audit_file(tid).read_text()


@pytest.mark.parametrize(
    ("extra", "kind", "reason"),
    [
        ("", EventKind.HAND_EDIT, f"set to blocked by a {HAND_EDIT_ACTOR}"),
        ("event: emergency_stop, ", EventKind.EMERGENCY_STOP, f"set to blocked by a {HAND_EDIT_ACTOR}"),
        ('event: emergency_stop, reason: "runaway agent", ', EventKind.EMERGENCY_STOP, "runaway agent"),
    ],
)
def test_a_task_set_to_blocked_by_hand_is_stopped_by_the_next_command(
    ws: Workspace, extra: str, kind: EventKind, reason: str
) -> None:
    tid = running(ws)
    edit_entry(ws, tid, "{status: running, ", "{status: blocked, " + extra)
    listed = run_aios("task", "list", "--json", cwd=ws.root)  # a command that only reads
    assert listed.returncode == 0, listed.stderr
    assert '"status": "blocked"' in listed.stdout
    task = tasks.get(ws, tid)
    event = task.events[-1]
    assert (task.status, task.blocked_from) == (Status.BLOCKED, Status.RUNNING)
    assert (event.actor, event.from_, event.to, event.kind, event.reason) == (
        HAND_EDIT_ACTOR,
        Status.RUNNING,
        Status.BLOCKED,
        kind,
        reason,
    )
    assert f"· running → blocked [{kind.value}] · by {HAND_EDIT_ACTOR} (human) · {reason}\n" in trail(ws, tid)
    # Recorded once: the index is aios's own again, and the edit's extra keys are gone from it.
    tasks.listing(ws)
    assert len(tasks.get(ws, tid).events) == len(task.events)
    assert "event:" not in ws.index_file.read_text().split("\ntasks:")[1]
    assert check_state(ws) == []
    # Only a person lifts it, as any block.
    actions.transition(ws, tid, "unblock", actor="alice")
    assert tasks.get(ws, tid).status is Status.RUNNING


@pytest.mark.parametrize("status", ["inbox", "ready"])
def test_a_task_not_started_can_be_stopped_by_hand(ws: Workspace, status: str) -> None:
    tid = new_task(ws) if status == "inbox" else ready_task(ws)
    edit_entry(ws, tid, f"{{status: {status}, ", "{status: blocked, ")
    assert tasks.get(ws, tid).status is Status.BLOCKED
    assert tasks.get(ws, tid).blocked_from is Status(status)


def test_task_status_records_the_hand_edit_too(ws: Workspace) -> None:
    tid = running(ws)
    edit_entry(ws, tid, "{status: running, ", "{status: blocked, ")
    shown = run_aios("task", "status", tid, cwd=ws.root)
    assert shown.returncode == 0, shown.stderr
    assert f"{tid}  blocked  (dev, priority 3)" in shown.stdout
    assert f"running → blocked [hand_edit]  by {HAND_EDIT_ACTOR}" in shown.stdout


def test_state_check_reports_a_hand_stop_not_yet_recorded_and_changes_nothing(ws: Workspace) -> None:
    tid = running(ws)
    edit_entry(ws, tid, "{status: running, ", "{status: blocked, ")
    before = ws.index_file.read_text()
    problems = [p.render() for p in check_state(ws)]
    assert problems == [
        f"state/tasks.yaml: tasks.{tid}.status: the index says {tid} is blocked, but its task file says "
        f"running\n  fix: a hand edit stopping {tid}, not recorded yet: any aios command "
        f"(`aios task list`) records it on ops/audit/{tid}.md; or set it back to running"
    ]
    assert ws.index_file.read_text() == before


def test_any_other_hand_edit_of_a_status_is_reported_and_not_applied(ws: Workspace) -> None:
    """Today's split state: the list said done, the task file running, and the slot was freed."""
    ids = [running(ws) for _ in range(3)]  # dev allows 3
    edit_entry(ws, ids[0], "{status: running, ", "{status: done, ")
    problems = [p.render() for p in check_state(ws)]
    assert problems == [
        f"state/tasks.yaml: tasks.{ids[0]}.status: the index says {ids[0]} is done, but its task file says "
        "running\n  fix: the task file is the truth and the next aios command restores the index from it; "
        "move the task with `aios task ...` (only `status: blocked` is taken from a hand edit of the index)"
    ]
    fourth = ready_task(ws)
    with pytest.raises(QueueError, match="queue dev is full: 3 of 3 running"):
        actions.transition(ws, fourth, "start", actor="alice")
    assert {r["id"]: r["status"] for r in tasks.listing(ws)}[ids[0]] == "running"
    assert f"not applied: a {HAND_EDIT_ACTOR} set {ids[0]} to done in queue dev" in governance_log(ws)
    assert check_state(ws) == []


def test_the_list_never_shows_a_status_a_hand_edited_task_file_contradicts(ws: Workspace) -> None:
    tid = running(ws)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("status: running", "status: code_review"))
    assert {r["id"]: r["status"] for r in tasks.listing(ws)}[tid] == "code_review"


def test_a_queue_locked_by_hand_is_recorded_once_in_the_history_and_the_governance_log(ws: Workspace) -> None:
    tid = ready_task(ws)
    edit_queue(ws, "dev", "SYSTEM_LOCK")
    rows = {r["queue"]: r for r in queues.status(ws)}
    assert rows["dev"]["locked"] and rows["dev"]["locked_by"] is None
    with pytest.raises(
        QueueError, match=r"queue dev is locked \(SYSTEM_LOCK by a hand edit of state/tasks.yaml\)"
    ):
        actions.transition(ws, tid, "start", actor="alice")
    tasks.listing(ws)
    history = ws.queue_locks_file.read_text()
    assert history.count(f"dev locked by {HAND_EDIT_ACTOR}") == 1
    assert governance_log(ws).count(f"queue dev set to SYSTEM_LOCK by a {HAND_EDIT_ACTOR}") == 1
    assert "  dev: SYSTEM_LOCK\n" in ws.index_file.read_text()  # the hand edit is kept as written
    # Removing the lock by hand (the operating model's "release stuck queue") is recorded too.
    edit_queue(ws, "dev", "null")
    actions.transition(ws, tid, "start", actor="alice")
    assert f"dev unlocked by {HAND_EDIT_ACTOR}" in ws.queue_locks_file.read_text()
    assert f"queue dev unlocked by a {HAND_EDIT_ACTOR}\n" in governance_log(ws)


def test_a_lock_made_by_aios_is_not_taken_for_a_hand_edit(ws: Workspace) -> None:
    actions.set_lock(ws, ["data"], locked=True, actor="alice", reason="incident")
    text = ws.index_file.read_text()
    ws.index_file.write_text(text.replace("# Emergency stop", "# (a comment edited)\n# Emergency stop", 1))
    tasks.listing(ws)
    assert HAND_EDIT_ACTOR not in ws.queue_locks_file.read_text()
    assert governance_log(ws) == ""


def test_an_index_from_before_stamps_records_nothing_new(ws: Workspace) -> None:
    tid = running(ws)
    actions.set_lock(ws, ["data"], locked=True, actor="alice")
    text = ws.index_file.read_text()
    ws.index_file.write_text(re.sub(r"(?m)^# aios-stamp: .*\n", "", text))
    events = len(tasks.get(ws, tid).events)
    assert tasks.listing(ws)
    assert len(tasks.get(ws, tid).events) == events
    assert governance_log(ws) == ""
    assert "# aios-stamp: " in ws.index_file.read_text()


def test_an_index_edited_while_a_command_writes_is_never_overwritten(ws: Workspace) -> None:
    tid = running(ws)
    with pytest.raises(StateError) as caught, Store(ws).transaction() as txn:
        edit_entry(ws, tid, "{status: running, ", "{status: blocked, ")  # lands mid-transaction
        txn.record(txn.task(tid), actor="alice", to=Status.RUNNING, reason="a note")
    assert (
        caught.value.message == "state/tasks.yaml was edited while this command ran, so nothing was changed"
    )
    assert caught.value.fix == "run the command again: the hand edit is recorded first"
    assert "status: blocked" in ws.index_file.read_text()
    assert tasks.get(ws, tid).events[-1].kind is EventKind.HAND_EDIT  # the next command recorded it


def test_a_rebuild_keeps_a_hand_stop(ws: Workspace) -> None:
    tid = running(ws)
    edit_entry(ws, tid, "{status: running, ", "{status: blocked, event: emergency_stop, ")
    done = run_aios("state", "rebuild", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    assert tasks.get(ws, tid).status is Status.BLOCKED
    assert Store(ws).read_index().tasks[tid].status is Status.BLOCKED


def test_a_freeze_lifted_by_hand_is_recorded(ws: Workspace) -> None:
    result = actions.freeze(ws, actor="alice", reason="drill")
    text = ws.index_file.read_text()
    ws.index_file.write_text(re.sub(r"(?m)^frozen: .*\n", "", text))
    tasks.listing(ws)
    assert f"was lifted by a {HAND_EDIT_ACTOR}" in governance_log(ws)
    assert f"lifted by {HAND_EDIT_ACTOR}" in (ws.root / result.freeze.record).read_text()


def test_a_broken_index_does_not_stop_a_task_being_read(ws: Workspace) -> None:
    tid = running(ws)
    ws.index_file.write_text(ws.index_file.read_text() + "tasks: [broken\n")
    assert tasks.get(ws, tid).status is Status.RUNNING  # the task file is the truth
    with pytest.raises(StateError, match="state/tasks.yaml:18: this is not valid YAML"):
        tasks.listing(ws)  # the index itself is what the list shows: its error, with the line
