"""Re-filing an inbox task into another queue at triage: a new id, its history and card moved, the
old id redirecting; crash-safe at every step; the audit chain of both trails valid."""

from __future__ import annotations

import pytest
from helpers import agent_session, new_task

from orchestrator.errors import ConfigError, PermissionDenied, StateError, TransitionError
from orchestrator.governance import actions
from orchestrator.state import refile, refiled, tasks
from orchestrator.state.check import check_state
from orchestrator.state.records import EventKind
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace


def _triaged(ws: Workspace) -> str:
    tid = new_task(ws, "dev")
    actions.triage(ws, tid, priority=2, actor="alice", reason="urgent")
    return tid


def test_a_refiled_task_gets_the_next_id_of_its_new_queue_with_its_whole_history(ws: Workspace) -> None:
    old = _triaged(ws)
    before = tasks.get(ws, old)
    moved = actions.triage(ws, old, queue="data", actor="bob", reason="it is data work")
    assert (moved.id, moved.queue, moved.priority, moved.status.value) == (
        "TASK_DATA_0001",
        "data",
        2,
        "inbox",
    )
    # Every event it had (same seq numbers), then the refile event naming both ids.
    assert moved.events[:-1] == before.events
    last = moved.events[-1]
    assert last.kind is EventKind.REFILE and last.actor == "bob"
    assert last.reason == "re-filed: TASK_DEV_0001 (queue dev) → TASK_DATA_0001 (queue data); it is data work"
    # The card moved: new file, new id and queue, the rest as written; the old card and file are gone.
    assert moved.card == "tasks/inbox/TASK_DATA_0001.md" and last.artifacts == [moved.card]
    card = (ws.root / moved.card).read_text()
    assert "id: TASK_DATA_0001\n" in card and "queue: data\n" in card and "priority: 2\n" in card
    assert not (ws.inbox_dir / f"{old}.md").exists() and not ws.task_file(old).exists()
    assert old not in Store(ws).index().tasks and "TASK_DATA_0001" in Store(ws).index().tasks
    # Both trails carry the event, each a valid chain; the old one kept every line it had.
    old_trail, new_trail = ws.audit_file(old).read_text(), ws.audit_file(moved.id).read_text()
    assert old_trail.splitlines()[-2].endswith(last.reason) and "[refile]" in old_trail
    assert new_trail.splitlines()[-2].endswith(last.reason) and new_trail.count("- #") == len(moved.events)
    assert check_state(ws) == []


def test_the_old_id_says_where_the_task_went_and_is_never_reused(ws: Workspace) -> None:
    old = _triaged(ws)
    actions.triage(ws, old, queue="data", actor="alice")
    with pytest.raises(StateError) as caught:
        tasks.get(ws, old)
    assert caught.value.message.startswith(f"{old} was re-filed as TASK_DATA_0001 (queue dev → data) at ")
    assert caught.value.fix == "use TASK_DATA_0001: `aios task status TASK_DATA_0001`"
    with pytest.raises(StateError, match="re-filed as TASK_DATA_0001"):
        actions.transition(ws, old, "approve", actor="alice")
    Store(ws).rebuild()  # counters re-derived from the task files, where the old id no longer is
    assert new_task(ws, "dev") == "TASK_DEV_0002"
    # Re-filed again, the first id follows the chain to the task's current id.
    actions.triage(ws, "TASK_DATA_0001", queue="research", actor="alice")
    assert refiled.current_id(ws, old) == "TASK_RESEARCH_0001"
    assert "use TASK_RESEARCH_0001" in (pytest.raises(StateError, tasks.get, ws, old).value.fix or "")
    assert check_state(ws) == []


def test_only_an_inbox_task_is_refiled_into_a_known_other_queue(ws: Workspace) -> None:
    tid = new_task(ws, "dev")
    with pytest.raises(ConfigError, match="unknown queue 'nope'"):
        actions.triage(ws, tid, queue="nope", actor="alice")
    with pytest.raises(ConfigError, match="in the dev queue already"):
        actions.triage(ws, tid, queue="dev", actor="alice")
    actions.transition(ws, tid, "approve", actor="alice")
    with pytest.raises(TransitionError, match="it is ready, not in the inbox"):
        actions.triage(ws, tid, queue="data", actor="alice")
    assert not ws.refiled_file.exists() and tasks.get(ws, tid).queue == "dev"


def test_who_may_approve_tasks_may_refile_and_refusals_are_audited(ws: Workspace) -> None:
    tid = new_task(ws, "dev")
    planner = agent_session(ws, "planner-bot", "planner", [tid])
    with pytest.raises(PermissionDenied) as caught:
        actions.triage(ws, tid, queue="data", actor=planner.actor, session=planner)
    assert caught.value.rule == "role-mode"
    with pytest.raises(PermissionDenied) as caught:
        actions.triage(ws, tid, queue="data", actor="mallory")
    assert caught.value.rule == "membership"
    trail = ws.audit_file(tid).read_text()
    assert "refused (role-mode): triage" in trail and "refused (membership): triage" in trail
    assert not ws.refiled_file.exists() and ws.task_file(tid).exists()


def _crash_once(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> None:
    real = getattr(target, name)

    def crash(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(target, name, real)
        raise KeyboardInterrupt

    monkeypatch.setattr(target, name, crash)


@pytest.mark.parametrize(
    ("target", "name"),
    [
        (refile, "finish"),  # the intent written, nothing else
        (refile, "_write_card"),  # the refile event recorded in memory, not committed
        ("store", "_write_index"),  # inside the commit: task files written, the index not
        ("audit", "append"),  # inside the commit: the old trail's line not written
        (refile, "_remove_old"),  # the index no longer lists the old id; its files remain
    ],
)
def test_a_refile_interrupted_at_any_step_is_reported_and_finished_by_running_it_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, target: object, name: str
) -> None:
    from orchestrator.state import audit
    from orchestrator.state.store import Store as StoreClass

    target = {"store": StoreClass, "audit": audit}.get(target, target)  # type: ignore[call-overload]
    old = _triaged(ws)
    _crash_once(monkeypatch, target, name)
    with pytest.raises(KeyboardInterrupt):
        actions.triage(ws, old, queue="data", actor="alice")
    found = [p.render() for p in check_state(ws)]
    assert any(
        f"the re-file of {old} as TASK_DATA_0001 (queue dev → data) was interrupted" in p for p in found
    )
    assert any(f"fix: run `aios task triage {old} --queue data` again" in p for p in found), found
    assert not any("used 2 times" in p or "are missing" in p for p in found), found  # only the re-file
    moved = actions.triage(ws, old, queue="data", actor="alice")
    assert moved.id == "TASK_DATA_0001" and not ws.task_file(old).exists()
    assert sum(e.kind is EventKind.REFILE for e in moved.events) == 1
    assert ws.audit_file(old).read_text().count("[refile]") == 1
    assert check_state(ws) == []
    assert sorted(p.name for p in ws.inbox_dir.glob("TASK_*.md")) == ["TASK_DATA_0001.md"]


def test_an_edited_old_trail_is_still_caught_after_the_refile(ws: Workspace) -> None:
    old = _triaged(ws)
    actions.triage(ws, old, queue="data", actor="alice")
    path = ws.audit_file(old)
    path.write_text(path.read_text().replace("urgent", "not urgent"))
    problems = [p.render() for p in check_state(ws)]
    assert any(p.startswith(f"{ws.rel(path)}: #2: line #2 is altered") for p in problems), problems


def test_a_task_with_an_open_escalation_is_not_refiled(ws: Workspace) -> None:
    from orchestrator.governance import escalations
    from orchestrator.state.escalations import EscalationType

    tid = new_task(ws, "dev")
    opened = escalations.escalate(ws, tid, kind=EscalationType.BLOCKED, reason="x", actor="alice")
    with pytest.raises(StateError, match=f"has an open escalation \\({opened.escalation.id}\\)"):
        actions.triage(ws, tid, queue="data", actor="alice")
    assert ws.task_file(tid).exists() and not ws.refiled_file.exists()


def test_refiling_on_postgresql_state_is_refused_before_anything_changes(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    tid = new_task(ws)
    with pytest.raises(StateError, match="re-filing a task into another queue is not supported"):
        actions.triage(ws, tid, queue="data", actor="alice")
    assert tasks.get(ws, tid).queue == "dev"
