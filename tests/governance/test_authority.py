"""Who may do what: members by authority level, agents by session, the governance queue."""

from __future__ import annotations

import pytest
from helpers import add_member, agent_session, new_task, ready_task

from orchestrator.errors import PermissionDenied
from orchestrator.governance import actions
from orchestrator.state.project import Level
from orchestrator.state.workspace import Workspace


def test_agents_and_non_members_cannot_approve(ws: Workspace) -> None:
    tid = new_task(ws)
    planner = agent_session(ws, "planner", mode="planner", scope=[tid])
    with pytest.raises(PermissionDenied, match="planner mode, which may not approve a task to start"):
        actions.transition(ws, tid, "approve", actor=planner.actor, session=planner)
    with pytest.raises(PermissionDenied, match="'mallory' is not a member") as refused:
        actions.transition(ws, tid, "approve", actor="mallory")
    assert refused.value.rule == "membership"
    actions.transition(ws, tid, "approve", actor="bob")


def test_governance_queue_needs_a_human_to_start(ws: Workspace) -> None:
    tid = ready_task(ws, "governance")
    builder = agent_session(ws, "builder-1", scope=[tid])
    with pytest.raises(PermissionDenied, match="governance queue are started by a human member") as refused:
        actions.transition(ws, tid, "start", actor=builder.actor, session=builder)
    assert refused.value.rule == "human-approval"
    actions.transition(ws, tid, "start", actor="alice")


def test_merging_needs_a_lead_and_a_governance_merge_a_platform_engineer(ws: Workspace) -> None:
    add_member(ws, "lee", Level.LEAD)
    add_member(ws, "pat", Level.PLATFORM)
    ws = Workspace(ws.root)
    for queue, enough, too_little in (("dev", "lee", "bob"), ("governance", "pat", "lee")):
        tid = ready_task(ws, queue)
        actions.transition(ws, tid, "start", actor="alice")
        actions.transition(ws, tid, "finish", actor="alice")
        with pytest.raises(PermissionDenied, match="may not approve a merge") as refused:
            actions.transition(ws, tid, "merge", actor=too_little)
        assert refused.value.rule == "authority-level"
        actions.transition(ws, tid, "merge", actor=enough)
    reviewer = agent_session(ws, "rev", mode="reviewer")
    with pytest.raises(PermissionDenied, match="reviewer mode, which may not approve a merge"):
        actions.require(ws, actions.Op.MERGE, actor=reviewer.actor, session=reviewer)


def test_a_person_cannot_act_with_an_agents_session(ws: Workspace) -> None:
    tid = ready_task(ws)
    builder = agent_session(ws, "builder-1", scope=[tid])
    with pytest.raises(PermissionDenied, match="belongs to agent:builder-1"):
        actions.transition(ws, tid, "start", actor="alice", session=builder)
