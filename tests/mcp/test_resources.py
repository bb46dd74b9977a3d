"""Resources: the TaskCard, the latest review report and the audit trail, read in the session's scope."""

from __future__ import annotations

import pytest
from helpers import ready_task
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_calls import call
from test_tools import open_session

from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

pytestmark = pytest.mark.anyio


async def test_a_task_in_scope_is_read_through_the_session_shown(ws: Workspace, server) -> None:
    mine, other = ready_task(ws), ready_task(ws)
    token = open_session(ws, RoleMode.BUILDER, [mine])
    async with Client(server) as agent:
        with pytest.raises(MCPError, match="refused by rule 'session'"):
            await agent.read_resource(f"aios://tasks/{mine}/card")  # no session shown yet
        await call(agent, "task_status", session_token=token, task_id=mine)
        card = (await agent.read_resource(f"aios://tasks/{mine}/card")).contents[0].text
        audit = (await agent.read_resource(f"aios://tasks/{mine}/audit")).contents[0].text
        review = (await agent.read_resource(f"aios://tasks/{mine}/review")).contents[0].text
        with pytest.raises(MCPError, match="refused by rule 'task-scope'"):
            await agent.read_resource(f"aios://tasks/{other}/card")
        await call(agent, "session_terminate", session_token=token)
        with pytest.raises(MCPError, match="refused by rule 'session'"):
            await agent.read_resource(f"aios://tasks/{mine}/card")
    assert card.startswith("---\nid: " + mine)
    assert "alice" in audit and "ready" in audit  # alice approved it: inbox → ready
    assert review == f"No review report for {mine} yet."
