"""``aios mcp``: serve the agent lifecycle to MCP clients (stdio by default, or HTTP on 127.0.0.1)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.workflow.modes import ReviewerMode


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp)


def mcp(
    ctx: typer.Context,
    http: Annotated[
        bool, typer.Option("--http", help="Streamable HTTP on 127.0.0.1 instead of stdio.")
    ] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The HTTP port.")] = 8765,
    reviewer: Annotated[
        ReviewerMode | None,
        typer.Option("--reviewer", help="Reviewer of every review_submit: model (default) or static."),
    ] = None,
    no_sandbox: Annotated[
        bool, typer.Option("--no-sandbox", help="Run review commands without bubblewrap (unsafe).")
    ] = False,
) -> None:
    """Serve aios to MCP clients: agents register, open sessions, work tasks and submit for review.

    Agents act only through sessions; who may do what is the CLI's table. Add it to a client as
    the command `aios --root /path/to/workspace mcp`.
    """
    from orchestrator.mcp._shell import Shell
    from orchestrator.mcp.server import serve

    ws = state(ctx).workspace()  # refused here, with the fix, when there is no workspace
    serve(Shell(root=ws.root, reviewer=reviewer, sandbox=not no_sandbox, http=http), port=port)
