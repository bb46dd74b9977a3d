"""Rendering helpers shared by the command modules (the typer-free ones live in ``_print``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from orchestrator.cli._print import console, echo, print_error, print_json, print_json_error, safe
from orchestrator.redact import redact

__all__ = [
    "JsonFlag",
    "console",
    "echo",
    "json_requested",
    "log_to_stderr",
    "print_error",
    "print_json",
    "print_json_error",
    "safe",
    "usage_error",
]

_JSON_KEY = "aios.json"


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    # Every context of one invocation shares `meta`: the error boundary, around the root, reads it.
    if value:
        ctx.meta[_JSON_KEY] = True
    return value


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout (an error too).", callback=_remember_json)
]
"""The ``--json`` option of every command: it also tells the error boundary to print errors as JSON."""


def json_requested(ctx: typer.Context) -> bool:
    """Whether the invoked command was given ``--json``."""
    return bool(ctx.meta.get(_JSON_KEY))


def usage_error(ctx: typer.Context, message: str) -> typer.Exit:
    """Print a usage mistake the way typer does for bad options; raise the result (exit 2)."""
    sys.stderr.write(f"usage error: {message}\nTry '{ctx.command_path} --help' for help.\n")
    return typer.Exit(2)


class _StderrLog(logging.Handler):
    """aios's log records on stderr, each line redacted and its control characters escaped."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(safe(redact(self.format(record))) + "\n")
        except Exception:  # logging must never break a command: the stdlib's own policy
            self.handleError(record)


def log_to_stderr(verbosity: int) -> Callable[[], None]:
    """Show the ``orchestrator`` loggers on stderr: INFO at ``-v``, DEBUG at ``-vv``.

    Returns:
        What undoes it, for when the command ends (an in-process run, a test, leaves no trace).
    """
    logger = logging.getLogger("orchestrator")
    handler, level = _StderrLog(), logger.level
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return undo
