"""A plain subprocess ``Runner``: no isolation at all.

For tests, benches and code the user trusts. Review runs of agent-written code use the sandbox
(``orchestrator.sandbox.bwrap.run_command``) bound into a ``Runner`` by the workflow instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.review.evidence._base import Runner, RunnerFactory
from orchestrator.sandbox.bwrap import CommandResult


def plain_runner(
    worktree: Path, timeout_s: float, *, env: Mapping[str, str] | None = None, max_output_chars: int = 200_000
) -> Runner:
    """A ``Runner`` that runs argv in ``worktree`` with a time limit and nothing else.

    The interpreter's own ``bin`` folder goes first on ``PATH`` so ``python``, ``ruff`` and
    ``detect-secrets`` resolve to this environment's, as they do in the sandbox.
    """
    environ = dict(os.environ if env is None else env)
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    environ["PYTHONDONTWRITEBYTECODE"] = "1"

    def run(argv: Sequence[str]) -> CommandResult:
        return _run(list(argv), worktree, timeout_s, environ, max_output_chars)

    return run


def plain_runner_factory(worktree: Path, *, env: Mapping[str, str] | None = None) -> RunnerFactory:
    """A ``RunnerFactory`` of ``plain_runner``s for ``worktree``."""
    return lambda timeout_s: plain_runner(worktree, timeout_s, env=env)


def _run(argv: list[str], cwd: Path, timeout_s: float, env: dict[str, str], cap: int) -> CommandResult:
    start = time.perf_counter()
    try:
        # A new session lets a timeout kill the whole process group (`sh -c` children included).
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:  # missing or unexecutable program: what a shell reports as 127
        return CommandResult(tuple(argv), 127, "", str(exc), time.perf_counter() - start, sandboxed=False)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return CommandResult(
            tuple(argv), None, out[-cap:], err[-cap:], timeout_s, timed_out=True, sandboxed=False
        )
    return CommandResult(
        tuple(argv), proc.returncode, out[-cap:], err[-cap:], time.perf_counter() - start, sandboxed=False
    )
