"""Resources: the TaskCard, the latest review report and the audit trail of each task in scope.

A resource read carries no token argument: over HTTP the client sends its token as an
``Authorization: Bearer`` header; on stdio (one client per server process) the read acts in the
session the client last showed to a tool (``Shell.resource_session``). The session must still be
live and the task in its scope, decided by ``authority`` like every tool call (``Op.READ``).
"""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError

from orchestrator.errors import AiosError
from orchestrator.governance.matrix import Op
from orchestrator.mcp._shell import Shell, tool_error
from orchestrator.state.workspace import Workspace

CARD = "aios://tasks/{task_id}/card"
REPORT = "aios://tasks/{task_id}/review"
AUDIT = "aios://tasks/{task_id}/audit"


def register(server: MCPServer, shell: Shell) -> None:
    """Add the three resource templates to ``server``."""

    @server.resource(
        CARD, mime_type="text/markdown", description="The task's TaskCard (front matter and body)."
    )
    def task_card(task_id: str, ctx: Context) -> str:
        ws = _readable(shell, task_id, ctx)
        from orchestrator.state import tasks

        return (ws.root / tasks.get(ws, task_id).card).read_text(encoding="utf-8")

    @server.resource(REPORT, mime_type="text/markdown", description="The task's latest review report.")
    def review_report(task_id: str, ctx: Context) -> str:
        ws = _readable(shell, task_id, ctx)
        from orchestrator.review.report import latest_report, render_markdown

        report = latest_report(ws, task_id)
        return render_markdown(report) if report else f"No review report for {task_id} yet."

    @server.resource(AUDIT, mime_type="text/markdown", description="The task's append-only audit trail.")
    def audit_trail(task_id: str, ctx: Context) -> str:
        ws = _readable(shell, task_id, ctx)
        trail = ws.audit_file(task_id)
        return trail.read_text(encoding="utf-8") if trail.exists() else ""


def _readable(shell: Shell, task_id: str, ctx: Context) -> Workspace:
    """The workspace, once the connection's session may read ``task_id``."""
    from orchestrator.governance import actions

    try:
        session = shell.resource_session(ctx.headers, what=f"read {task_id}")
        ws = shell.workspace()
        actions.require(ws, Op.READ, actor=session.actor, session=session, task_id=task_id)
    except AiosError as exc:
        raise ResourceError(str(tool_error(exc))) from None
    return ws
