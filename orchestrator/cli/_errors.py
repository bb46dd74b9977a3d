"""The command line's one error boundary (pre-commit's ``error_handler.py``).

- A user error (``AiosError``): one paragraph on stderr, exit 1.
- Ctrl-C: exit 130.
- Anything else is a bug: the traceback goes to a crash log with the version, Python and platform
  beside it (what a bug report needs), the user is told where it is, exit 3.

``AIOS_DEBUG=1`` re-raises instead, for a debugger.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Iterator

import typer

USER_ERROR, INTERNAL_ERROR, INTERRUPTED = 1, 3, 130


@contextlib.contextmanager
def error_boundary() -> Iterator[None]:
    """Turn what escapes a command into a message and an exit code (see the module docstring)."""
    from orchestrator.errors import AiosError

    try:
        yield
    except AiosError as exc:
        if os.environ.get("AIOS_DEBUG"):
            raise
        from orchestrator.cli._output import print_error

        print_error(exc)
        raise typer.Exit(USER_ERROR) from None
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None
    except Exception as exc:
        if _is_click_control(exc) or os.environ.get("AIOS_DEBUG"):
            raise  # click's own: Exit, Abort, a usage error it prints and exits 2 on
        log = write_crash_log()
        sys.stderr.write(f"aios: internal error (a bug, not your mistake); the traceback is in {log}\n")
        raise typer.Exit(INTERNAL_ERROR) from None


def _is_click_control(exc: Exception) -> bool:
    # typer 0.29 vendors click as typer._click, older typer uses click itself: match by class name.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ClickException", "Exit", "Abort"})


def write_crash_log() -> str:
    """Write the current exception's traceback, with version, Python and platform, to a new file."""
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
