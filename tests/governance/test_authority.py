"""Who may do what: members and agents, the governance queue, and the merge permission."""

from __future__ import annotations

import pytest
from helpers import new_task, ready_task

from orchestrator.errors import PermissionDenied
from orchestrator.governance import actions
from orchestrator.state.workspace import Workspace


def test_agents_and_non_members_cannot_approve(ws: Workspace) -> None:
    tid = new_task(ws)
    with pytest.raises(PermissionDenied, match="agent:planner is an agent"):
        actions.transition(ws, tid, "approve", actor="agent:planner")
    with pytest.raises(PermissionDenied, match="'mallory' is not a member"):
        actions.transition(ws, tid, "approve", actor="mallory")
    actions.transition(ws, tid, "approve", actor="bob")


def test_governance_queue_needs_a_human_to_start(ws: Workspace) -> None:
    tid = ready_task(ws, "governance")
    with pytest.raises(
        PermissionDenied, match="only a human member may start a task in the governance queue"
    ):
        actions.transition(ws, tid, "start", actor="agent:builder")
    actions.transition(ws, tid, "start", actor="alice")


def test_only_merge_permission_moves_to_done(ws: Workspace) -> None:
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    actions.transition(ws, tid, "finish", actor="alice")
    with pytest.raises(PermissionDenied, match="none of their roles has the `merge` permission"):
        actions.transition(ws, tid, "merge", actor="bob")
    with pytest.raises(PermissionDenied):
        actions.transition(ws, tid, "merge", actor="agent:reviewer")
    actions.transition(ws, tid, "merge", actor="alice")
