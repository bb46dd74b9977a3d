"""The main job: the demo scenario replays the shipped recording through the whole loop."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.workflow import demo


def test_demo_replays_the_whole_loop(tmp_path: Path) -> None:
    lines: list[str] = []
    code = demo.run(
        tmp_path / "demo", say=lines.append, approve=lambda result: True, sandbox=bwrap_available()
    )
    out = "\n".join(lines)
    assert code == 0, out
    assert "round 1: NEEDS_REVISION" in out and "round 2: APPROVED" in out
    assert "S608" in out and "no-tests" in out  # round 1's findings are real evidence, not just the model's
    assert "4 fixed since the last round" in out
    assert "a reviewer agent tries to merge: refused" in out
    assert "reviewing → done · by demo-lead (human)" in out  # the audit trail closes with the human merge
    merged = subprocess.run(
        ["git", "-C", str(tmp_path / "demo"), "show", "main:src/users.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'WHERE name = ?", (name,)' in merged


def test_demo_stops_at_the_checkpoint_when_the_human_declines(tmp_path: Path) -> None:
    lines: list[str] = []
    code = demo.run(
        tmp_path / "demo", say=lines.append, approve=lambda result: False, sandbox=bwrap_available()
    )
    assert code == 0
    assert "Left at the human checkpoint" in lines[-1]
