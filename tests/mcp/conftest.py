"""Fixtures for the MCP shell: an in-process server on a workspace, and a helper to call its tools.

No ``__init__.py`` here on purpose: a package named ``mcp`` under tests/ would shadow the SDK.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.mcp._shell import Shell
from orchestrator.mcp.server import build
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state.workspace import Workspace


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server(ws: Workspace):
    """The server ``aios mcp --reviewer static`` builds, in-process (the sandbox where bwrap exists)."""
    return build(Shell(root=ws.root, reviewer="static", sandbox=bwrap_available()))


async def call(client: Any, tool: str, **args: Any) -> Any:
    """Call ``tool``; its structured result, or raise ``AssertionError`` with the error text."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def refused(client: Any, tool: str, **args: Any) -> str:
    """Call ``tool`` expecting a tool error; returns its text."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return result.content[0].text
