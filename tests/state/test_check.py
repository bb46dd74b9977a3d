"""``aios state check`` finds broken sequences; ``aios state rebuild`` never lifts a queue lock."""

from __future__ import annotations

import re

import pytest

from orchestrator.errors import QueueError
from orchestrator.governance import actions
from orchestrator.state.check import check_state, rebuild
from orchestrator.state.store import REBUILD_ACTOR, Store
from orchestrator.state.workspace import Workspace

from .test_tasks import ready_task


def set_seq(ws: Workspace, tid: str, old: int, new: int) -> None:
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace(f"{{seq: {old},", f"{{seq: {new},"))


def messages(ws: Workspace) -> list[str]:
    return [p.render() for p in check_state(ws)]


def test_a_seq_used_twice_is_reported(ws: Workspace) -> None:
    ready_task(ws), (second := ready_task(ws))  # seqs 1, 2 and 3, 4
    assert check_state(ws) == []
    set_seq(ws, second, 4, 2)
    assert messages(ws) == [
        "state/tasks: event seq 2 is used 2 times (TASK_DEV_0001 event 2, TASK_DEV_0002 event 2), "
        "so their order is lost\n  fix: give the later event the next free seq by hand (see the audit "
        "trails in ops/audit/), then run `aios state rebuild`",
    ]


def test_missing_seqs_are_reported(ws: Workspace) -> None:
    ready_task(ws), (second := ready_task(ws))
    set_seq(ws, second, 4, 6)
    assert messages(ws) == [
        "state/tasks: event seq numbers 4, 5 are missing: a task file was deleted or replaced by an old "
        "copy\n  fix: restore the task file from a backup or from git (its audit trail in ops/audit/ "
        "lists the events it held)",
        "state/tasks.yaml: seq: the index's seq is 4, behind event seq 6 in the task files\n"
        "  fix: run `aios state rebuild`, or the next event reuses a number",
    ]


def test_an_index_seq_behind_the_task_files_is_reported(ws: Workspace) -> None:
    ready_task(ws)
    ws.index_file.write_text(ws.index_file.read_text().replace("seq: 2\n", "seq: 1\n"))
    assert messages(ws) == [
        "state/tasks.yaml: seq: the index's seq is 1, behind event seq 2 in the task files\n"
        "  fix: run `aios state rebuild`, or the next event reuses a number"
    ]
    rebuild(ws)
    assert check_state(ws) == []


def _freeze_log(ws: Workspace) -> str:
    path = ws.root / "ops" / "freeze" / "queue-locks.md"
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize(
    "entry",
    ["dev: SYSTEM-LOCK", "dev: system_lock", "dev: LOCKED", "dev: {lock: SYSTEM_LOCK, running: [}"],
)
def test_rebuild_keeps_a_lock_it_cannot_read_as_locked(ws: Workspace, entry: str) -> None:
    tid = ready_task(ws)
    text = ws.index_file.read_text()
    ws.index_file.write_text(re.sub(r"(?m)^  dev: .*$", "  " + entry, text))
    result = rebuild(ws)
    assert result.salvaged == {"dev": f"it reads `{entry}`"}
    state = Store(ws).read_index().queues
    assert (state["dev"].lock, state["dev"].locked_by) == ("SYSTEM_LOCK", REBUILD_ACTOR)
    assert not any(q.lock for name, q in state.items() if name != "dev")
    with pytest.raises(QueueError, match="queue dev is locked"):
        actions.transition(ws, tid, "start", actor="alice")
    assert "· dev kept locked by aios state rebuild · the old index could not be read" in _freeze_log(ws)
    actions.set_lock(ws, ["dev"], locked=False, actor="alice")  # a member lifts it, explicitly
    actions.transition(ws, tid, "start", actor="alice")


def test_rebuild_of_an_unreadable_index_keeps_every_queue_locked(ws: Workspace) -> None:
    ws.index_file.write_bytes(b"\xff\xfe garbage \x00")
    result = rebuild(ws)
    assert sorted(result.salvaged) == sorted(ws.project.queues)
    assert all(q.lock == "SYSTEM_LOCK" for q in Store(ws).read_index().queues.values())


def test_rebuild_of_a_broken_index_without_locks_locks_nothing(ws: Workspace) -> None:
    ready_task(ws)
    ws.index_file.write_text(ws.index_file.read_text() + "tasks: [broken\n")
    assert rebuild(ws).salvaged == {}
    assert not any(q.lock for q in Store(ws).read_index().queues.values())
    assert _freeze_log(ws) == ""


def test_an_event_by_a_forged_actor_written_before_the_check_is_reported(ws: Workspace) -> None:
    tid = ready_task(ws)
    path = ws.task_file(tid)
    path.write_text(
        path.read_text().replace("actor: alice, from: inbox", 'actor: "ceo\\n- #99", from: inbox')
    )
    assert messages(ws) == [
        "state/tasks/TASK_DEV_0001.yaml: events[1].actor: the actor name 'ceo\\n- #99' holds a control "
        "character, \\n (U+000A)\n  fix: compare ops/audit/TASK_DEV_0001.md with the task file: a line "
        "after event #2 there may be forged"
    ]


def test_check_reports_a_session_of_an_unregistered_agent(ws: Workspace) -> None:
    from helpers import agent_session

    agent_session(ws, "bot")
    ws.agents_file.write_text("schema_version: 1\nagents: []\n")
    problems = [p.render() for p in check_state(ws)]
    assert any("belongs to agent 'bot', which is not registered" in p for p in problems), problems
