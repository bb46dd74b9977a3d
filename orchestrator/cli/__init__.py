"""The ``aios`` command line: the only place that prints.

Commands stay thin: they parse options, call a service function and render its result; errors
are handled once, in ``_errors.error_boundary``. Heavy stacks (LangGraph, model SDKs) are imported
inside the commands that need them, so state commands start fast.
"""

from __future__ import annotations


def run() -> None:
    """Console-script entry point (``aios``, ``python -m orchestrator``)."""
    import sys

    from orchestrator.cli._fast import serve

    code = serve(sys.argv[1:])  # the plainest read-only invocations, without importing typer
    if code is not None:
        raise SystemExit(code)
    from orchestrator.cli.app import app

    app(prog_name="aios")  # also from `python -m orchestrator`: usage and completion name `aios`
