"""``aios task validate``: check TaskCard files, with or without a workspace around them."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._context import CliState
from orchestrator.errors import AiosError
from orchestrator.state.workspace import Workspace


def validate_cards(cli: CliState, files: list[Path]) -> list[AiosError]:
    """Validate each card (all of ``tasks/**/*.md`` when ``files`` is empty); prints one line each."""
    from orchestrator.state import taskcard, tasks

    ws = _optional_workspace(cli)
    if not files:
        files = sorted((ws or Workspace(Path.cwd())).cards_dir.rglob("*.md"))
    problems: list[AiosError] = []
    for file in files:
        try:
            card = taskcard.load(file)
            if ws is not None:
                tasks.check_card(ws, card, file=file)
        except AiosError as exc:
            problems.append(exc)
            typer.echo(f"error: {exc.render()}", err=True)
        else:
            typer.echo(f"ok     {file}")
    if not files:
        typer.echo("No TaskCards found.")
    return problems


def _optional_workspace(cli: CliState):  # type: ignore[no-untyped-def]
    # Without a workspace (pre-commit in a plain repository) only the card's own rules are checked.
    try:
        return cli.workspace()
    except AiosError:
        return None
