"""Printing without typer: what the commands print, and the plain-text views they share with the
typer-free fast path (``_fast``). Everything printed passes the redactor and is escaped here.
"""

from __future__ import annotations

import json
import os
import select
import sys
from typing import Any

from orchestrator._text import visible
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
    write(safe(redact(text), keep=keep))


def write(text: str) -> None:
    """``text`` and a line break on stdout, flushed: what ``typer.echo`` does, without typer."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


#: The exit code when whoever read the output stopped reading it (``aios task list --all | head``):
#: 128 + SIGPIPE, what a shell reports for a command a closed pipe stopped.
OUTPUT_CLOSED = 141


def output_closed() -> bool:
    """After a ``BrokenPipeError``: whether it was stdout's reader that went away. If so, stdout now
    points at /dev/null, so that the interpreter's last flush does not fail on it once more."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(event & select.POLLERR for _, event in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll, no file descriptor: not a pipe
        return False
    if gone:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return gone


def console() -> Any:
    """A rich console for human output (imported lazily: rich costs start-up time)."""
    from rich.console import Console

    return Console(highlight=False)
