"""A user's own ``--record`` of a review run replays in a fresh workspace at another path, where the
commits have other ids and the checks take other times."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.llm.fake import FakeModel, install_fake, tool_call
from orchestrator.llm.replay import close_recorder
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.workflow import demo

CHECK = "python -m pytest tests"  # not -q: pytest prints the rootdir (an absolute path) and a duration


def checking_performer(messages: list[Any], info: Any) -> Any:
    """The demo's builder and reviewers, except that the builder runs the tests first each round."""
    if info.output is None and not any(m.role == "tool" for m in messages):
        return tool_call("run_check", command=CHECK)
    return demo.performer(_without_checks(messages), info)


def _without_checks(messages: list[Any]) -> list[Any]:
    ids = {c.id for m in messages for c in m.tool_calls if c.name == "run_check"}
    return [m for m in messages if m.tool_call_id not in ids and not any(c.id in ids for c in m.tool_calls)]


def play(folder: Path, **kwargs: Any) -> list[str]:
    lines: list[str] = []
    code = demo.run(
        folder, say=lines.append, approve=lambda result: False, sandbox=bwrap_available(), **kwargs
    )
    assert code == 0, "\n".join(lines)
    return [line.strip() for line in lines if "── round" in line]


def heads(folder: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(folder), "log", "--format=%H", "task/TASK_DEV_0001"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def test_a_recording_replays_in_another_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a" / "ws", tmp_path / "somewhere" / "else" / "project"
    recording = tmp_path / "run.jsonl"
    with monkeypatch.context() as m, install_fake(FakeModel(checking_performer)):
        m.setattr(demo, "FIXED_DATE", "2025-06-30T17:45:12+00:00")  # other dates: other commit ids
        recorded = play(a, model="fake", record=recording)
    close_recorder(recording)

    replayed = play(b, model=f"replay:{recording}")

    assert replayed == recorded
    assert "round 1: NEEDS_REVISION" in recorded[0] and "round 2: APPROVED" in recorded[-1]
    # What made the two runs differ was in the requests, and did not decide the match.
    text = recording.read_text()
    assert set(heads(a)).isdisjoint(heads(b))
    assert any(sha[:12] in text for sha in heads(a))
    assert "rootdir: <workspace>/.aios/worktrees/TASK_DEV_0001" in text and str(a) not in text
    turns = [json.loads(line) for line in text.splitlines()]
    assert any(" passed in " in m.get("content", "") for t in turns for m in t["request"]["messages"])
