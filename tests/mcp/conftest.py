"""Fixtures for the MCP shell: an in-process server on a workspace (helpers: ``mcp_calls``).

No ``__init__.py`` here on purpose: a package named ``mcp`` under tests/ would shadow the SDK. So
the helpers live in a module named for this folder, not in this ``conftest`` (another folder's
``conftest`` of the same name would be the one imported).
"""

from __future__ import annotations

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
