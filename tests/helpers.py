"""Helpers shared by test modules (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def run_aios(*args: str, cwd: Path, actor: str = "alice", env: dict[str, str] | None = None):
    """Run the real ``aios`` console script in a subprocess (exit codes, stderr, start-up)."""
    full_env = {**os.environ, "AIOS_ACTOR": actor, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )
