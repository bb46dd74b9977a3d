"""``python -m orchestrator`` is the ``aios`` command."""

from orchestrator.cli import run

run()
