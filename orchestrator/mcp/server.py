"""``aios mcp``: the MCP server, over stdio (the default) or streamable HTTP on 127.0.0.1.

Example:
    ``serve(Shell(root=ws.root))`` serves stdio until the client closes it;
    ``serve(Shell(root=ws.root, http=True), port=8765)`` serves ``http://127.0.0.1:8765/mcp``.
"""

from __future__ import annotations

import logging

from mcp.server import MCPServer

from orchestrator.mcp import resources
from orchestrator.mcp._shell import Shell
from orchestrator.mcp.tools import Tools
from orchestrator.redact import RedactingFilter

#: Only ever bound here: the server has no authentication of its own beyond session tokens, so it
#: must not be reachable from another machine.
HOST = "127.0.0.1"
PATH = "/mcp"

INSTRUCTIONS = """\
AI Workflow OS: work on tasks under human governance.
1. agent_register (once): you are `pending` until a human member approves you.
2. session_create with your agent_id, a role_mode and the task_scope you work on; keep the token
   and pass it as session_token to every other tool.
3. task_start returns the task's worktree: write your change there and commit it on branch
   task/<ID> (git add/commit in the worktree). governance_check tells whether your changed paths
   fit the TaskCard. Then review_submit: the reply has the verdict and the findings to fix.
4. On APPROVED a human member approves the merge (review_approve always refuses an agent).
5. session_terminate when done. A refusal names the governance rule that refused and the fix.
Resources (read on the connection that showed your session): aios://tasks/<ID>/card,
aios://tasks/<ID>/review, aios://tasks/<ID>/audit."""


def build(shell: Shell) -> MCPServer:
    """The server with every tool and resource, bound to ``shell``'s workspace and options."""
    from orchestrator import __version__

    # WARNING: the SDK's INFO lines would repeat each tool error; nothing useful is lost.
    server: MCPServer = MCPServer("aios", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    tools = Tools(shell)
    for name in Tools.NAMES:
        server.add_tool(getattr(tools, name), name=name)
    resources.register(server, shell)
    _redact_logs()
    return server


def serve(shell: Shell, *, port: int = 8765) -> None:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP)."""
    server = build(shell)
    if shell.http:
        server.run("streamable-http", host=HOST, port=port, streamable_http_path=PATH)
    else:
        server.run("stdio")


def _redact_logs() -> None:
    """Mask secrets in every log line the server writes (its handlers sit on the root logger)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
