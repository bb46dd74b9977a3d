"""Rendering helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from orchestrator.errors import AiosError
from orchestrator.redact import redact, redact_data


def print_error(exc: AiosError) -> None:
    """One paragraph on stderr: ``error: file:line: field: message`` and the fix."""
    sys.stderr.write(f"error: {exc.render()}\n")


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else, so scripts can parse it; every string passes the redactor."""
    sys.stdout.write(json.dumps(redact_data(json.loads(json.dumps(data, default=str))), indent=2) + "\n")


def echo(text: str) -> None:
    """A line of task data (titles, reasons, findings, diffs) on stdout, secrets masked."""
    typer.echo(redact(text))


def console() -> Any:
    """A rich console for human output (imported lazily: rich costs start-up time)."""
    from rich.console import Console

    return Console(highlight=False)


def usage_error(ctx: typer.Context, message: str) -> typer.Exit:
    """Print a usage mistake the way typer does for bad options; raise the result (exit 2)."""
    sys.stderr.write(f"usage error: {message}\nTry '{ctx.command_path} --help' for help.\n")
    return typer.Exit(2)
