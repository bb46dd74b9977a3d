"""Rendering helpers shared by the command modules."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Annotated, Any

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


def print_json_error(
    message: str,
    *,
    fix: str | None = None,
    file: str | None = None,
    field: str | None = None,
    line: int | None = None,
) -> None:
    """An error as JSON on stdout, for a command given ``--json``: a script parses one shape.

    Example:
        ``{"error": "unknown task TASK_DEV_0009", "fix": "...", "file": null, "field": null,
        "line": null}``
    """
    print_json({"error": message, "fix": fix, "file": file, "field": field, "line": line})


def print_json(data: Any, *, reveal: dict[str, str] | None = None) -> None:
    """JSON on stdout, nothing else, so scripts can parse it; every string passes the redactor.

    ``reveal`` adds keys whose values pass unmasked: only a secret shown to its owner once, such as
    a new session's token (``aios session create --json``).
    """
    shown = redact_data(json.loads(json.dumps(data, default=str)))
    if reveal:
        shown = {**shown, **reveal}
    sys.stdout.write(json.dumps(shown, indent=2) + "\n")


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
