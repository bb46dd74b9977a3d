"""The one error boundary: user errors, Ctrl-C and bugs each end the same way from every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator import __version__
from orchestrator.cli.app import app
from orchestrator.state import queues
from orchestrator.state.workspace import Workspace


def _invoke(ws: Workspace):
    return CliRunner().invoke(app, ["--root", str(ws.root), "queue", "status"])


def test_a_bug_writes_a_crash_log_with_version_python_and_platform(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_ws):
        raise RuntimeError("a bug in queues.status")

    monkeypatch.setattr(queues, "status", broken)
    monkeypatch.delenv("AIOS_DEBUG", raising=False)
    result = _invoke(ws)
    assert result.exit_code == 70  # EX_SOFTWARE: 3 and 4 are review outcomes
    assert "internal error (a bug, not your mistake)" in result.stderr
    log = Path(result.stderr.rsplit("the traceback is in ", 1)[1].strip())
    text = log.read_text()
    log.unlink()
    assert f"aios version: {__version__}" in text
    assert "python: 3." in text and "platform: " in text
    assert "RuntimeError: a bug in queues.status" in text


def test_ctrl_c_exits_130(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_ws):
        raise KeyboardInterrupt

    monkeypatch.setattr(queues, "status", interrupted)
    assert _invoke(ws).exit_code == 130


def test_aios_debug_re_raises_a_bug(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queues, "status", lambda _ws: 1 / 0)
    monkeypatch.setenv("AIOS_DEBUG", "1")
    assert isinstance(_invoke(ws).exception, ZeroDivisionError)


def test_a_bad_choice_is_a_usage_error_not_a_crash(ws: Workspace) -> None:
    result = CliRunner().invoke(app, ["--root", str(ws.root), "review", "run", "T", "--builder", "robot"])
    assert result.exit_code == 2
    assert "robot" in result.stderr and "internal error" not in result.stderr
