"""`aios demo`: the command runs the whole loop and exits 0."""

from __future__ import annotations

import subprocess
import sys


def test_aios_demo_command_exits_0() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "demo", "--yes"],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "merged into main" in done.stdout
