"""``aios demo``: the whole governed task flow, offline, in a throwaway workspace."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Keep the demo workspace and print its path.")] = False,
) -> None:
    """Run the task flow end to end in a throwaway workspace and print its audit trail."""
    from orchestrator import demo as scenario

    folder = Path(tempfile.mkdtemp(prefix="aios-demo-"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(folder)], check=True)
    try:
        for line in scenario.run(folder):
            typer.echo(line)
    finally:
        if keep:
            typer.echo(f"\nThe workspace is kept at {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
