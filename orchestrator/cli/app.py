"""The typer application: global options and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli._context import CliState
from orchestrator.cli._errors import EXIT_CODES_HELP, error_boundary
from orchestrator.cli._lazy import LazyGroup
from orchestrator.cli._output import log_to_stderr, usage_error


class _ErrorBoundary(LazyGroup):
    """Every command runs inside the one error boundary, from the console script and in tests alike.

    The command groups (``_lazy.COMMANDS``) are imported when one of their commands runs.
    """

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        with error_boundary(ctx):
            return super().invoke(ctx)


app = typer.Typer(
    cls=_ErrorBoundary,
    name="aios",
    help="AI Workflow OS: AI agents write code under human governance.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    # --install-completion/--show-completion: typer's own, generated from the commands offline.
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every subcommand
    pretty_exceptions_show_locals=False,  # locals can hold API keys
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from orchestrator import __version__

        typer.echo(f"aios {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print aios's version and exit."
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress lines on stderr; results and errors still print."),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Each evidence check's command, outcome and duration on stderr (-vv: debug logs).",
        ),
    ] = 0,
    root: Annotated[
        Path | None,
        typer.Option("--root", envvar="AIOS_ROOT", help="Workspace root (default: found by walking up)."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="AIOS_ACTOR",
            help="Who acts: a member name, or agent:<id> for an agent (default: the member whose email is "
            "git's user.email, else your login name). Attribution, not authentication: on one machine "
            "anyone can name anyone; agents authenticate with session tokens.",
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            envvar="AIOS_SESSION",
            show_envvar=True,
            help="An agent acts through its session token (prefer AIOS_SESSION: a flag shows in `ps`).",
        ),
    ] = None,
) -> None:
    """AI Workflow OS: TaskCards, a builder/reviewer loop, human checkpoints and an audit trail."""
    if quiet and verbose:
        raise usage_error(ctx, "-q/--quiet and -v/--verbose contradict each other: give one")
    if verbose:
        ctx.call_on_close(log_to_stderr(verbose))
    ctx.obj = CliState(root=root, actor=actor, session_token=session, quiet=quiet, verbose=verbose)
    if ctx.invoked_subcommand is not None and not ctx.resilient_parsing:
        from orchestrator.cli._overdue import check_overdue

        check_overdue(ctx.obj)  # an escalation past its time moves up before the command runs
