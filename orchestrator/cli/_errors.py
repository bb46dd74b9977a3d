"""The command line's one error boundary (pre-commit's ``error_handler.py``) and its exit codes.

- A user error (``AiosError``): one paragraph on stderr, exit 1. Under ``--json`` the error is
  JSON on stdout instead (``{"error", "fix", "file", "field", "line"}``), so a script parses it.
- Ctrl-C: exit 130.
- The reader of the output went away (``aios task list --all | head``): exit 141, nothing said.
- Anything else is a bug: the traceback goes to a crash log with the version, Python and platform
  beside it (what a bug report needs), the user is told where it is, exit 70 (``EX_SOFTWARE`` of
  sysexits.h: 3 and 4 are review outcomes a CI gates on, so a crash must not look like one).

``AIOS_DEBUG=1`` re-raises instead, for a debugger.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator

import typer

from orchestrator.cli import _print

#: The exit-code contract scripts and CI gate on; `aios --help` and the README list it.
OK, USER_ERROR, USAGE = 0, 1, 2
NEEDS_REVISION, BLOCKED = 3, 4
INTERNAL_ERROR, INTERRUPTED = 70, 130
OUTPUT_CLOSED = _print.OUTPUT_CLOSED

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (a review APPROVED: waiting for a human, or merged); 1 refused or a user "
    "error; 2 usage; 3 NEEDS_REVISION, waiting for an external builder; 4 BLOCKED or escalated "
    "to a human; 70 internal error (a bug: see the crash log); 130 interrupted; 141 the output was "
    "closed early (`| head`)."
)


@contextlib.contextmanager
def error_boundary(ctx: typer.Context | None = None) -> Iterator[None]:
    """Turn what escapes a command into a message and an exit code (see the module docstring).

    Args:
        ctx: the root context. A subcommand's ``--json`` is parsed inside the boundary, and marks
            the ``meta`` every context of the invocation shares; the boundary reads it there.
    """
    from orchestrator.errors import AiosError

    try:
        yield
    except AiosError as exc:
        if os.environ.get("AIOS_DEBUG"):
            raise
        from orchestrator.cli._output import print_error, print_json_error

        if _json_wanted(ctx):
            print_json_error(exc.message, fix=exc.fix, file=exc.file, field=exc.field, line=exc.line)
        else:
            print_error(exc)
        raise typer.Exit(USER_ERROR) from None
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None
    except Exception as exc:
        if _is_click_control(exc) or os.environ.get("AIOS_DEBUG"):
            raise  # click's own: Exit, Abort, a usage error it prints and exits 2 on
        if isinstance(exc, BrokenPipeError) and _print.output_closed():
            raise typer.Exit(OUTPUT_CLOSED) from None
        _report_bug(_json_wanted(ctx))
        raise typer.Exit(INTERNAL_ERROR) from None


def _json_wanted(ctx: typer.Context | None) -> bool:
    from orchestrator.cli._output import json_requested

    return ctx is not None and json_requested(ctx)


def _report_bug(as_json: bool) -> None:
    log = write_crash_log()
    sys.stderr.write(f"aios: internal error (a bug, not your mistake); the traceback is in {log}\n")
    if as_json:
        from orchestrator.cli._output import print_json_error

        fix = "report it with the crash log; AIOS_DEBUG=1 re-raises it for a debugger"
        print_json_error("internal error (a bug, not your mistake)", fix=fix, file=log)


def _is_click_control(exc: Exception) -> bool:
    # typer 0.29 vendors click as typer._click, older typer uses click itself: match by class name.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ClickException", "Exit", "Abort"})


def write_crash_log() -> str:
    """Write the current exception's traceback, with version, Python and platform, to a new file."""
    import platform  # only for a crash: its import is a few regexes every command would compile

    from orchestrator import __version__

    fd, path = tempfile.mkstemp(prefix="aios-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            f"aios version: {__version__}\n"
            f"python: {sys.version.split()[0]} ({sys.executable})\n"
            f"platform: {platform.platform()}\n\n"
            f"{traceback.format_exc()}"
        )
    return path
