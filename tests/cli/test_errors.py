"""The one error boundary: user errors, Ctrl-C and bugs each end the same way from every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git_repo, run_aios
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


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("none", ["init"], "is not inside a git repository"),
        ("none", ["task", "list"], "no aios workspace in"),
        ("ws", ["task", "new", "--queue", "ops", "--title", "t", "--criterion", "c"], "unknown queue 'ops'"),
        ("ws", ["task", "status", "TASK_DEV_0099"], "no task TASK_DEV_0099"),
        (
            "card:---\nid: TASK_DEV_0001\ntitle: t\nqueue: dev\nacceptance_criteria: []\n---\n",
            ["task", "new", "--file", "card.md"],
            "card.md:5: acceptance_criteria: List should have at least 1 item",
        ),
        (
            "card:---\nid: TASK_DEV_0001\ntitle: t\nqueue: dev\nowner: me\n"
            "acceptance_criteria: [{id: A, text: b}]\n---\n",
            ["task", "new", "--file", "card.md"],
            "card.md:5: owner: unknown field",
        ),
        (
            "card:---\nid: TASK_DEV_0001\ntitle: [t\n---\n",
            ["task", "validate", "card.md"],
            "card.md:4: this is not valid YAML",
        ),
        ("broken-index", ["task", "start", "TASK_DEV_0001"], "state/tasks.yaml:"),
        ("broken-task", ["task", "status", "TASK_DEV_0001"], "state/tasks/TASK_DEV_0001.yaml:"),
        ("broken-project", ["queue", "status"], "state/project.yaml:"),
        ("dup", ["task", "new", "--file", "card.md"], "task TASK_DEV_0001 already exists"),
    ],
)
def test_broken_inputs_get_a_clear_error_and_no_traceback(
    tmp_path: Path, setup: str, args: list[str], expected: str
) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    if setup != "none":
        git_repo(repo)
        run_aios("init", cwd=repo)
    if setup.startswith("card:"):
        (repo / "card.md").write_text(setup.removeprefix("card:"))
    if setup in ("broken-index", "broken-task", "dup"):
        run_aios("task", "new", "--queue", "dev", "--title", "t", "--criterion", "c", cwd=repo)
        (repo / "card.md").write_text((repo / "tasks/inbox/TASK_DEV_0001.md").read_text())
    if setup == "broken-index":
        (repo / "state/tasks.yaml").write_text("queues:\n  dev: SYSTEM_LOK\n")
    if setup == "broken-task":
        path = repo / "state/tasks/TASK_DEV_0001.yaml"
        path.write_text(path.read_text().replace("status: inbox", "status: runing"))
    if setup == "broken-project":
        path = repo / "state/project.yaml"
        path.write_text(path.read_text().replace("max_concurrent: 3", "max_concurrent: three"))
    before = {p: p.read_bytes() for p in repo.rglob("*.yaml")}
    result = run_aios(*args, cwd=repo)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert before == {p: p.read_bytes() for p in repo.rglob("*.yaml")}  # nothing overwritten
