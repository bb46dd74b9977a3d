"""``aios serve``: the board and the human checkpoint as a local web page."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestrator.cli._context import state

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="The port (0: any free one).")] = 8377,
    host: Annotated[
        str, typer.Option("--host", help="The address to listen on. Beyond 127.0.0.1 only on purpose.")
    ] = "127.0.0.1",
    no_sandbox: Annotated[
        bool,
        typer.Option("--no-sandbox", help="Run a rejected task's next round without bubblewrap (unsafe)."),
    ] = False,
) -> None:
    """Serve the board, each task's diff and review, and approve/reject, on a local web page.

    Prints a one-time login link on stdout; whoever opens it chooses the member they act as, and
    the same governance rules as the CLI decide what that member may do. Stop it with Ctrl-C.
    """
    from orchestrator.web.auth import Gate
    from orchestrator.web.server import serve as run_server

    ws = state(ctx).workspace()  # refused here, with the fix, when there is no workspace
    if host not in LOCAL_HOSTS:
        sys.stderr.write(
            f"warning: listening on {host}: anyone who can reach this machine can open the login page; "
            "the one-time link is all that guards it\n"
        )
    gate = Gate()
    shown_host = link_host(host)

    def ready(bound: int) -> None:
        # On a line of its own: scripts and tests read it; the token is single-use and short-lived.
        typer.echo(f"http://{shown_host}:{bound}/login?token={gate.link_token}")

    run_server(ws.root, gate=gate, host=host, port=port, sandbox=not no_sandbox, on_ready=ready)


def link_host(host: str) -> str:
    """The host of the printed link: 127.0.0.1 for this machine or every address, else ``host``."""
    if host in ("127.0.0.1", "localhost", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
