"""One review run in a process of its own, for a worker (``worker.Worker``).

A worker can end this process at once (SIGKILL to its process group) and never be caught
half-way through its own state writes; the run itself survives a kill as it survives any crash
(its checkpoint and the store's journal), so the next worker resumes it.

Protocol: the request is one JSON object on stdin (``root``, ``task``, ``actor``, ``options``,
``progress``); the process answers with JSON lines on stdout, addressed to the worker, never to
a person: ``{"progress": "..."}`` per step, then ``{"status": {...}}`` (a ``RunStatus``) or
``{"error": "...", "fix": "..."}`` (an ``AiosError``). Exit 0 either way; anything else is a bug.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the worker dies (a worker killed with -9 takes its run along).

    Elsewhere the run goes on to its next stop and the worker's claim waits for it (the run lock).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the worker died before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def main() -> int:
    from orchestrator.errors import AiosError
    from orchestrator.redact import redact, redact_data
    from orchestrator.state.workspace import Workspace
    from orchestrator.workflow import runs
    from orchestrator.workflow.options import RunOptions

    request = json.loads(sys.stdin.read())
    _die_with_parent(int(request["parent"]))
    ws = Workspace(Path(request["root"]))
    options = RunOptions.model_validate(request["options"])
    # Masked here: this process loaded the secrets earlier reviews of the task found.
    progress = (lambda line: _send({"progress": redact(line)})) if request.get("progress") else None
    try:
        found = runs.run(ws, request["task"], options, actor=request["actor"], progress=progress)
    except AiosError as exc:
        _send(redact_data({"error": exc.message, "fix": exc.fix}))
        return 0
    _send({"status": redact_data(found.model_dump(mode="json"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
