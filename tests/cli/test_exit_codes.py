"""The exit codes a CI gates on, errors as JSON, and the global options (issue 11).

``aios review run``: 0 APPROVED (waiting for a human, or merged), 3 NEEDS_REVISION waiting for an
external builder, 4 BLOCKED or escalated; 1 refused or a user error, 2 usage, 70 a bug. Each task
here is reviewed by the static reviewer (evidence only, no model) on a tiny real repository.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from helpers import CALC, MUL_CHECK, calc_change, new_task, run_aios, write
from typer.testing import CliRunner

from orchestrator import __version__, _yaml, resources
from orchestrator.cli.app import app
from orchestrator.governance import actions
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import queues, tasks
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace

SANDBOX_ARGS = [] if bwrap_available() else ["--no-sandbox"]
BASE = CALC
CHANGE = calc_change()
PASSING = MUL_CHECK
FAILING = 'python -c "from src.calc import mul; assert mul(2, 3) == 7"'
CANNOT_RUN = "no-such-tool-aios-test --check"
ERROR_KEYS = ["error", "fix", "file", "field", "line"]


def reviewable(ws: Workspace, check: str) -> str:
    """A started task whose change (``mul`` and its test) is committed on its branch; returns its id."""
    write(ws.root, BASE)
    git.commit_all(ws.root, "calc")
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Add mul",
        queue="dev",
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=check)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    write(worktree, CHANGE)
    git.commit_all(worktree, "Add mul")
    return tid


def review(cli, tid: str, *extra: str):
    """``aios review run TID --builder external --reviewer static --json``."""
    args = ["review", "run", tid, "--builder", "external", "--reviewer", "static", "--json"]
    return cli(*args, *SANDBOX_ARGS, *extra)


# ---- aios review run ----


def test_approved_and_waiting_for_a_human_exits_0(ws: Workspace, cli) -> None:
    done = review(cli, reviewable(ws, PASSING))
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert (out["verdict"], out["waiting_for"]) == ("APPROVED", "human_review")


def test_merged_exits_0_and_approving_again_is_not_an_error(ws: Workspace, cli) -> None:
    tid = reviewable(ws, PASSING)
    assert review(cli, tid).exit_code == 0
    approved = cli("review", "approve", tid, "--json")
    assert approved.exit_code == 0, approved.output
    merged = json.loads(approved.stdout)["merged"]
    assert merged == git.head(ws.root, "refs/heads/main")
    rerun = review(cli, tid)  # a CI step run again after the merge
    assert rerun.exit_code == 0, rerun.output
    out = json.loads(rerun.stdout)
    assert (out["status"], out["merged"]) == ("done", merged)
    again = cli("review", "approve", tid, "--json")  # a retried step: what it asks for holds
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["note"] == f"{tid} is already merged; nothing to do"


def test_needs_revision_waiting_for_the_external_builder_exits_3(ws: Workspace) -> None:
    tid = reviewable(ws, FAILING)
    args = ["review", "run", tid, "--builder", "external", "--reviewer", "static", "--json"]
    done = run_aios("--root", str(ws.root), *args, *SANDBOX_ARGS, cwd=ws.root)  # the real process
    assert done.returncode == 3, done.stderr
    out = json.loads(done.stdout)
    assert (out["verdict"], out["waiting_for"]) == ("NEEDS_REVISION", "builder")
    assert "check acceptance:AC1 failed" in out["reasons"]
    again = run_aios("--root", str(ws.root), "review", "submit", tid, "--reviewer", "static",
                     *SANDBOX_ARGS, cwd=ws.root)  # fmt: skip
    assert again.returncode == 3, again.stderr  # nothing new committed: still the builder's turn
    assert "waiting for the builder" in again.stdout


def test_blocked_by_a_check_that_cannot_run_exits_4(ws: Workspace, cli) -> None:
    tid = reviewable(ws, CANNOT_RUN)
    done = review(cli, tid)
    assert done.exit_code == 4, done.output
    out = json.loads(done.stdout)
    assert (out["verdict"], out["status"], out["waiting_for"]) == ("BLOCKED", "blocked", "escalation")
    assert any(r.startswith("check acceptance:AC1 could not run") for r in out["reasons"]), out["reasons"]


def test_review_rounds_used_up_escalate_and_exit_4(ws: Workspace, cli) -> None:
    workflows = ws.root / "workflows"
    workflows.mkdir(exist_ok=True)
    shipped = resources.data_file("workflows", "pair_programming.yaml")
    data = _yaml.load(shipped.read_text(), file=shipped)
    data["rounds"] = {**data.get("rounds", {}), "max": 1}
    (workflows / "pair_programming.yaml").write_text(_yaml.dump(data))
    done = review(cli, reviewable(ws, FAILING))
    assert done.exit_code == 4, done.output
    out = json.loads(done.stdout)
    assert (out["verdict"], out["waiting_for"]) == ("NEEDS_REVISION", "escalation")


def test_an_agent_approving_is_refused_with_exit_1_and_a_json_error(ws: Workspace, cli) -> None:
    tid = reviewable(ws, PASSING)
    assert review(cli, tid).exit_code == 0
    done = cli("review", "approve", tid, "--json", actor="agent:builder")
    assert done.exit_code == 1, done.output
    error = json.loads(done.stdout)
    assert list(error) == ERROR_KEYS
    assert "agent" in error["error"] and error["fix"]
    assert done.stderr == ""  # under --json the error is JSON on stdout, and only there
    assert tasks.get(ws, tid).status.value == "reviewing"  # nothing merged


def test_a_user_error_without_json_is_one_paragraph_on_stderr(ws: Workspace, cli) -> None:
    done = cli("review", "approve", "TASK_DEV_0999")
    assert done.exit_code == 1
    assert done.stdout == "" and done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr


def test_approve_with_nothing_waiting_exits_1(ws: Workspace, cli) -> None:
    tid = reviewable(ws, PASSING)  # started, never reviewed
    done = cli("review", "approve", tid)
    assert done.exit_code == 1, done.output
    assert done.stderr == (
        f"error: nothing is waiting for a decision on {tid}; run `aios review run {tid}` first\n"
        f"  fix: `aios review status {tid}` shows what the task waits for\n"
    )
    assert tasks.get(ws, tid).status.value == "running"


def test_a_json_error_names_file_field_line_and_fix(ws: Workspace, cli, tmp_path: Path) -> None:
    bad = tmp_path / "card.md"
    bad.write_text("---\nid: TASK_DEV_0001\ntitle: x\nqueue: dev\npriority: 9\n---\nbody\n")
    done = cli("task", "new", "--file", str(bad), "--json")
    assert done.exit_code == 1, done.output
    error = json.loads(done.stdout)
    assert list(error) == ERROR_KEYS
    assert error["file"] == str(bad) and error["field"] == "priority" and error["line"] == 5
    assert error["error"] and error["fix"]


def test_a_bad_option_is_usage_exit_2(ws: Workspace, cli) -> None:
    done = cli("review", "run", "TASK_DEV_0000", "--no-such-option")
    assert done.exit_code == 2
    assert "No such option" in done.stderr


def test_a_bug_under_json_is_a_json_error_pointing_at_the_crash_log(
    ws: Workspace, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queues, "status", lambda _ws: 1 / 0)
    done = cli("queue", "status", "--json")
    assert done.exit_code == 70
    error = json.loads(done.stdout)
    assert list(error) == ERROR_KEYS
    assert error["error"] == "internal error (a bug, not your mistake)"
    log = Path(error["file"])
    assert "ZeroDivisionError" in log.read_text()
    log.unlink()


@pytest.mark.parametrize("args", [["task", "list"], ["task", "list", "--queue", "dev"], ["standup"]])
def test_output_closed_before_it_is_read_exits_141_saying_nothing(ws: Workspace, args: list[str]) -> None:
    for _ in range(3):
        new_task(ws)
    # The reader goes away before aios writes (as `aios task list | head -0` does): the fast path
    # (`task list`) and the typer commands alike end quietly, without a crash log.
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ws.root,
        env={**os.environ, "AIOS_ACTOR": "alice"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert (proc.wait(timeout=60), stderr) == (141, "")


def test_a_broken_pipe_elsewhere_is_still_a_bug(ws: Workspace, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_ws: Workspace) -> None:
        raise BrokenPipeError("a pipe of aios's own")

    monkeypatch.setattr(queues, "status", broken)
    done = cli("queue", "status")
    assert done.exit_code == 70 and "internal error" in done.stderr
    log = Path(done.stderr.rpartition("the traceback is in ")[2].strip())
    assert "a pipe of aios's own" in log.read_text()
    log.unlink()


def test_every_json_option_asks_for_json_errors() -> None:
    """A command given ``--json`` must get its errors as JSON: each uses the shared option."""
    root = typer.main.get_command(app)
    found = []

    def walk(cmd, path: str) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")
        for param in cmd.params:
            if "--json" in getattr(param, "opts", []):
                ctx = typer.Context(cmd)
                param.callback(ctx, param, True)
                assert ctx.meta.get("aios.json") is True, f"`{path} --json` does not mark JSON errors"
                found.append(path)

    walk(root, "aios")
    assert "aios review run" in found and "aios task new" in found and len(found) >= 15


# ---- global options ----


def test_version_prints_the_version() -> None:
    done = run_aios("--version", cwd=Path.cwd())
    assert (done.returncode, done.stdout) == (0, f"aios {__version__}\n")


def test_h_is_help_everywhere_and_lists_the_exit_codes() -> None:
    top = CliRunner().invoke(app, ["-h"])
    assert top.exit_code == 0 and "Exit codes: 0 ok" in top.stdout and "70 internal error" in top.stdout
    run = CliRunner().invoke(app, ["review", "run", "-h"])
    assert run.exit_code == 0
    text = " ".join(run.stdout.split())
    assert "Exit codes: 0 APPROVED (waiting for a human, or merged); 3 NEEDS_REVISION" in text
    assert "4 BLOCKED or escalated to a human; 1 refused or a user error" in text


def test_shell_completion_is_generated_offline_for_aios() -> None:
    done = run_aios("--show-completion", "bash", cwd=Path.cwd(), env={"SHELL": "/bin/bash"})
    assert done.returncode == 0, done.stderr
    assert "_AIOS_COMPLETE=complete_bash" in done.stdout and "complete" in done.stdout


def test_completion_lists_the_subcommands(tmp_path: Path) -> None:
    env = {"_AIOS_COMPLETE": "complete_bash", "COMP_WORDS": "aios rev", "COMP_CWORD": "1"}
    done = run_aios(cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["review"]


def test_quiet_drops_progress_and_verbose_shows_each_check(ws: Workspace, cli) -> None:
    tid = reviewable(ws, PASSING)
    quiet = cli("-q", "review", "run", tid, "--builder", "external", "--reviewer", "static", *SANDBOX_ARGS)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    assert f"{tid}: reviewing, round 1, verdict APPROVED" in quiet.stdout
    assert cli("review", "reject", tid, "--feedback", "again", *SANDBOX_ARGS).exit_code == 0
    worktree = git.worktree_path(ws.root, tid)
    (worktree / "NOTES.md").write_text("mul multiplies\n")
    git.commit_all(worktree, "notes")
    loud = cli("-v", "review", "submit", tid, "--reviewer", "static", *SANDBOX_ARGS)
    assert loud.exit_code == 0, loud.output
    assert "round 2: checks Q, R, C, O running" in loud.stderr  # progress stays
    check = [ln for ln in loud.stderr.splitlines() if "check R acceptance:AC1: passed in " in ln]
    command = "python -c 'from src.calc import mul; assert mul(2, 3) == 6'"
    assert check and check[0].endswith(command), loud.stderr
    assert logging.getLogger("orchestrator").handlers == []  # -v's handler ends with its command


def test_quiet_and_verbose_together_are_a_usage_error(cli) -> None:
    done = cli("-q", "-v", "task", "list")
    assert done.exit_code == 2
    assert "contradict" in done.stderr
