"""Agent sessions: created within the agent's grant, refused once expired, terminated or unknown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import new_task, ready_task

from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance import actions, agents, sessions
from orchestrator.state import sessions as store
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace


def builder_agent(ws: Workspace, queues: list[str] | None = None) -> str:
    return agents.register(ws, "Claude Code", role_modes=[RoleMode.BUILDER], queues=queues, actor="alice").id


def test_a_session_acts_in_its_scope_and_its_events_name_it(ws: Workspace) -> None:
    tid = ready_task(ws)
    opened, token = sessions.create(
        ws, agent_id=builder_agent(ws), role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    found = sessions.lookup(ws, token)
    task = actions.transition(ws, tid, "start", actor=found.actor, session=found)
    assert task.events[-1].actor == "agent:claude-code" and task.events[-1].session == opened.id
    assert f"· session {opened.id}" in ws.audit_file(tid).read_text()


def test_the_token_is_stored_only_as_its_hash(ws: Workspace) -> None:
    opened, token = sessions.create(
        ws, agent_id=builder_agent(ws), role_mode=RoleMode.BUILDER, task_scope=[], actor="alice"
    )
    assert token.startswith("aios_st_") and len(token) > 40
    text = ws.sessions_file.read_text()
    assert token not in text and store.token_hash(token) in text


def test_mode_and_scope_must_lie_within_the_grant(ws: Workspace) -> None:
    dev, data = new_task(ws, "dev"), new_task(ws, "data")
    agent_id = builder_agent(ws, queues=["dev"])
    with pytest.raises(PermissionDenied, match="may work in builder mode, not planner") as mode:
        sessions.create(ws, agent_id=agent_id, role_mode=RoleMode.PLANNER, task_scope=[dev], actor="alice")
    with pytest.raises(PermissionDenied, match=f"{data} is in the data queue, outside") as queue:
        sessions.create(ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[data], actor="alice")
    assert mode.value.rule == queue.value.rule == "grant"
    assert ws.governance_log.read_text().count("refused (grant)") == 2


def test_work_outside_the_scope_is_refused_and_audited(ws: Workspace) -> None:
    mine, other = ready_task(ws), ready_task(ws)
    opened, _ = sessions.create(
        ws, agent_id=builder_agent(ws), role_mode=RoleMode.BUILDER, task_scope=[mine], actor="alice"
    )
    with pytest.raises(PermissionDenied, match=f"{other} is outside the task scope") as refused:
        actions.transition(ws, other, "start", actor=opened.actor, session=opened)
    assert refused.value.rule == "task-scope"
    assert "refused (task-scope)" in ws.audit_file(other).read_text()


@pytest.mark.parametrize("how", ["command", "hand edit", "expiry", "revoke"])
def test_an_ended_session_is_refused_at_once(ws: Workspace, how: str) -> None:
    tid = ready_task(ws)
    agent_id = builder_agent(ws)
    opened, token = sessions.create(
        ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    if how == "command":
        sessions.terminate(ws, token, reason="misbehaving", actor="bob")
    elif how == "hand edit":  # the operating model's emergency procedure
        text = ws.sessions_file.read_text().replace("state: active", "state: terminated")
        ws.sessions_file.write_text(text)
    elif how == "expiry":
        text = ws.sessions_file.read_text().replace(opened.expires_at, "2020-01-01T00:00:00Z")
        ws.sessions_file.write_text(text)
    else:
        agents.revoke(ws, agent_id, actor="alice", reason="compromised")
    with pytest.raises(PermissionDenied) as refused:
        actions.transition(ws, tid, "start", actor=opened.actor, session=opened)
    assert refused.value.rule == "session"
    with pytest.raises(PermissionDenied):
        sessions.lookup(ws, token)


def test_a_hand_terminated_session_is_stamped_and_logged_by_the_next_write(ws: Workspace) -> None:
    agent_id = builder_agent(ws)
    opened, _ = sessions.create(
        ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[], actor="alice"
    )
    ws.sessions_file.write_text(ws.sessions_file.read_text().replace("state: active", "state: terminated"))
    sessions.create(ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[], actor="alice")
    held = store.load(ws).by_id(opened.id)
    assert held is not None and held.terminated_by == store.HAND_EDIT and held.terminated_at
    assert (
        f"session {opened.id} of agent:claude-code terminated by {store.HAND_EDIT}"
        in ws.governance_log.read_text()
    )


def test_unknown_token_is_refused_without_writing_it_down(ws: Workspace) -> None:
    forged = "aios_st_" + "x" * 43
    with pytest.raises(PermissionDenied, match="not known"):
        sessions.lookup(ws, forged)
    assert forged not in ws.governance_log.read_text()


def test_a_pending_agent_opens_no_session_until_approved(ws: Workspace) -> None:
    pending = agents.request(ws, "Codex", role_modes=[RoleMode.BUILDER], queues=None, via="MCP")
    assert pending.state.value == "pending"
    with pytest.raises(PermissionDenied, match="is pending"):
        sessions.create(ws, agent_id=pending.id, role_mode=RoleMode.BUILDER, task_scope=[], actor="alice")
    agents.approve(ws, pending.id, role_modes=[RoleMode.BUILDER], queues=None, actor="alice")
    sessions.create(ws, agent_id=pending.id, role_mode=RoleMode.BUILDER, task_scope=[], actor="alice")


def test_an_agent_ends_only_its_own_session(ws: Workspace) -> None:
    agent_id = builder_agent(ws)
    mine, _ = sessions.create(ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[], actor="alice")
    theirs, _ = sessions.create(
        ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[], actor="alice"
    )
    with pytest.raises(PermissionDenied, match="only its own session"):
        sessions.terminate(ws, theirs.id, reason="x", actor=mine.actor, session=mine)
    assert (
        sessions.terminate(ws, mine.id, reason="done", actor=mine.actor, session=mine).state.value
        == "terminated"
    )


def test_no_agent_reviews_its_own_work(ws: Workspace) -> None:
    tid = ready_task(ws)
    agent_id = agents.register(
        ws, "both", role_modes=[RoleMode.BUILDER, RoleMode.REVIEWER], queues=None, actor="alice"
    ).id
    build, _ = sessions.create(
        ws, agent_id=agent_id, role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    review, _ = sessions.create(
        ws, agent_id=agent_id, role_mode=RoleMode.REVIEWER, task_scope=[tid], actor="alice"
    )
    actions.transition(ws, tid, "start", actor=build.actor, session=build)
    actions.transition(ws, tid, "submit", actor=build.actor, session=build)
    with pytest.raises(PermissionDenied, match="no agent approves its own work") as refused:
        actions.transition(ws, tid, "finish", actor=review.actor, session=review)
    assert refused.value.rule == "own-work"


def test_a_task_is_worked_in_its_own_role_mode(ws: Workspace) -> None:
    tid = ready_task(ws)  # a builder task
    agent_id = agents.register(ws, "exec", role_modes=[RoleMode.EXECUTOR], queues=None, actor="alice").id
    opened, _ = sessions.create(
        ws, agent_id=agent_id, role_mode=RoleMode.EXECUTOR, task_scope=[tid], actor="alice"
    )
    with pytest.raises(
        PermissionDenied, match="is a builder task; a session in executor mode may not start it"
    ):
        actions.transition(ws, tid, "start", actor=opened.actor, session=opened)


def test_terminating_an_unknown_session_says_how_to_find_one(ws: Workspace) -> None:
    with pytest.raises(StateError, match="no session 'SES-000000000000'"):
        sessions.terminate(ws, "SES-000000000000", reason="x", actor="alice")


def test_ttl_parsing() -> None:
    assert store.parse_ttl("8h") == timedelta(hours=8)
    assert store.parse_ttl("30m") == timedelta(minutes=30)
    for bad in ("0h", "8", "h", "-1h", "1w"):
        with pytest.raises(ValueError, match="is not a duration"):
            store.parse_ttl(bad)


def test_a_freeze_or_a_queue_lock_stops_every_agent_but_not_people(ws: Workspace) -> None:
    tid = ready_task(ws)
    opened, _ = sessions.create(
        ws, agent_id=builder_agent(ws), role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    actions.transition(ws, tid, "start", actor=opened.actor, session=opened)
    actions.freeze(ws, actor="alice", reason="incident")
    with pytest.raises(PermissionDenied, match="may not finish a task: the system is frozen") as frozen:
        actions.transition(ws, tid, "finish", actor=opened.actor, session=opened)
    assert frozen.value.rule == "freeze"
    actions.unfreeze(ws, actor="alice")
    actions.set_lock(ws, ["dev"], locked=True, actor="bob", reason="noisy")
    with pytest.raises(PermissionDenied, match="queue dev is locked") as locked:
        actions.transition(ws, tid, "finish", actor=opened.actor, session=opened)
    assert locked.value.rule == "queue-lock"
    sessions.terminate(ws, opened.id, reason="done", actor=opened.actor, session=opened)  # still allowed
    actions.transition(ws, tid, "finish", actor="bob")  # a person still acts
