"""The ``aios`` command line: the only place that prints, and the one error boundary.

Commands stay thin: they parse options, call a service function and render its result.
Heavy stacks (LangGraph, model SDKs) are imported inside the commands that need them, so
state commands start fast.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback


def run() -> None:
    """Console-script entry point.

    User errors are handled inside the app (one paragraph, exit 1: see ``app._ErrorBoundary``);
    Ctrl-C exits 130, and anything else is a bug: its traceback goes to a log file and the exit
    code is 3. ``AIOS_DEBUG=1`` re-raises instead.
    """
    try:
        from orchestrator.cli.app import app

        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        if os.environ.get("AIOS_DEBUG"):
            raise
        log = _write_crash_log()
        sys.stderr.write(f"aios: internal error (a bug, not your mistake); the traceback is in {log}\n")
        sys.exit(3)


def _write_crash_log() -> str:
    fd, path = tempfile.mkstemp(prefix="aios-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(traceback.format_exc())
    return path
