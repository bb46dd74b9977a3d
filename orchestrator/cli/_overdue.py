"""The check every command starts with: an escalation past its time moves up first.

Its own module, so that the check costs every command one small file read, not the import of the
escalation commands.
"""

from __future__ import annotations

import typer

from orchestrator.cli._context import CliState
from orchestrator.cli._output import safe


def check_overdue(cli: CliState) -> None:
    """Move up what is overdue before the command runs: one small file read when nothing is due.

    Nothing heavier than the state layer is imported unless an escalation is due; a broken
    escalations file is reported on stderr and leaves the command to run.
    """
    from orchestrator.errors import AiosError

    try:
        ws = cli.workspace()
    except AiosError:
        return  # no workspace here (`aios init`, `aios models`): nothing can be due
    from orchestrator.state import peek

    if not peek.may_be_due(ws):
        return
    from orchestrator.state.escalations import overdue

    if not overdue(ws):
        return
    from orchestrator.governance.escalations import move_up_overdue
    from orchestrator.redact import redact

    try:
        lines = move_up_overdue(ws)
    except AiosError as exc:
        typer.echo(f"warning: overdue escalations were not moved up: {safe(exc.render())}", err=True)
        return
    if not cli.quiet:
        for line in lines:
            typer.echo(safe(redact(line)), err=True)
