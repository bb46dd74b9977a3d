"""``aios demo``: the whole governed loop, offline, in a throwaway workspace."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from orchestrator.workflow.status import RunStatus


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Answer the human checkpoint with approve.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Call this model instead of replaying the shipped recording."),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the demo workspace and print its path.")] = False,
) -> None:
    """Run a TaskCard through builder, Q/R/C/O review, revision, human approval and merge."""
    from orchestrator.sandbox.bwrap import bwrap_available
    from orchestrator.workflow import demo as scenario

    sandbox = bwrap_available()
    if not sandbox:
        typer.echo("note: bubblewrap is not installed, so the demo runs its own sample code unsandboxed\n")
    folder = Path(tempfile.mkdtemp(prefix="aios-demo-"))
    try:
        code = scenario.run(
            folder, say=typer.echo, approve=lambda result: _approve(yes, result), model=model, sandbox=sandbox
        )
    finally:
        if keep:
            typer.echo(f"\nThe workspace is kept at {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    raise typer.Exit(code)


def _approve(yes: bool, result: RunStatus) -> bool:
    typer.echo(f"\nHuman checkpoint: {result.task} passed review in round {result.round}.")
    if yes or not sys.stdin.isatty():
        typer.echo("Approve the merge? yes (--yes or no terminal)")
        return True
    return typer.confirm("Approve the merge?", default=True)
