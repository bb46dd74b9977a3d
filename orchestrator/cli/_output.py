"""Rendering helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from orchestrator.errors import AiosError
from orchestrator.redact import redact, redact_data


def safe(text: object, *, markup: bool = False, keep: str = "") -> str:
    """User- or model-supplied ``text`` made safe to print: control characters shown escaped.

    Args:
        text: anything; ``str()`` of it is printed.
        markup: the text goes to rich (a table cell, ``console().print``): escape its markup too,
            so ``[bold]`` or ``[link=...]`` in a reason prints as written.
        keep: characters to pass through, ``"\\n\\t"`` for a multi-line block such as a diff.

    Example:
        ``safe("ok\\x1b[2J [red]x", markup=True)`` is the text ``ok\\x1b[2J \\[red]x``: the escape
        shows as ``\\x1b`` instead of clearing the screen, the markup prints as written.
    """
    from orchestrator._text import visible

    shown = visible(str(text), keep=keep)
    if markup:
        from rich.markup import escape

        shown = escape(shown)
    return shown


def print_error(exc: AiosError) -> None:
    """One paragraph on stderr: ``error: file:line: field: message`` and the fix."""
    # A message can quote user input (a lock reason, a name): its line breaks stay, escapes do not.
    text = safe(exc.render(), keep="\n")
    sys.stderr.write(f"error: {text}\n")


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else, so scripts can parse it; every string passes the redactor."""
    sys.stdout.write(json.dumps(redact_data(json.loads(json.dumps(data, default=str))), indent=2) + "\n")


def echo(text: str, *, keep: str = "") -> None:
    """Task data (titles, reasons, findings, diffs) on stdout: secrets masked, controls escaped.

    ``keep="\n\t"`` passes line breaks and tabs through, for a multi-line block such as a diff.
    """
    typer.echo(safe(redact(text), keep=keep))


def console() -> Any:
    """A rich console for human output (imported lazily: rich costs start-up time)."""
    from rich.console import Console

    return Console(highlight=False)


def usage_error(ctx: typer.Context, message: str) -> typer.Exit:
    """Print a usage mistake the way typer does for bad options; raise the result (exit 2)."""
    sys.stderr.write(f"usage error: {message}\nTry '{ctx.command_path} --help' for help.\n")
    return typer.Exit(2)
