"""``aios agent prune``: test and stale agents are revoked, their sessions ended, by a lead or higher."""

from __future__ import annotations

import json

import pytest
from helpers import ready_task

from orchestrator.errors import PermissionDenied
from orchestrator.governance import agents, sessions
from orchestrator.state import agents as agent_store
from orchestrator.state import sessions as session_store
from orchestrator.state.agents import AgentState
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace


def _register(ws: Workspace, name: str) -> str:
    return agents.register(ws, name, role_modes=[RoleMode.BUILDER], queues=None, actor="alice").id


def test_prune_revokes_test_and_stale_agents_and_ends_their_sessions(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    test_bot, worker, old = _register(ws, "test-bot"), _register(ws, "worker"), _register(ws, "old timer")
    agents.builtin(ws, "builder")
    opened, _ = sessions.create(
        ws, agent_id=test_bot, role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    with agent_store.editing(ws) as roster:
        roster.get(old).registered_at = "2020-01-01T00:00:00.000Z"  # type: ignore[union-attr]
    with pytest.raises(PermissionDenied, match="needs an L2 project lead"):
        agents.prune(ws, actor="bob")
    dry = cli("agent", "prune", "--dry-run", "--json")
    assert json.loads(dry.stdout)["pruned"] == {
        test_bot: "a test agent",
        old: "no session opened for more than 30 days",
    }
    assert all(a.state is AgentState.ACTIVE for a in agent_store.load(ws).agents)  # dry run: nothing changed
    done = cli("agent", "prune")
    assert done.exit_code == 0 and f"{test_bot}: revoked (a test agent)" in done.stdout
    states = {a.id: a.state for a in agent_store.load(ws).agents}
    assert states == {
        test_bot: AgentState.REVOKED,
        worker: AgentState.ACTIVE,
        old: AgentState.REVOKED,
        "builder": AgentState.ACTIVE,
    }
    ended = session_store.load(ws).by_id(opened.id)
    assert ended is not None and not ended.live() and ended.reason == "agent pruned: a test agent"
    assert f"agent {old} revoked by alice · pruned: no session" in ws.governance_log.read_text()
    assert cli("agent", "prune").stdout == "No test or stale agents.\n"
