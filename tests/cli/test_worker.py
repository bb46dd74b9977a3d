"""``aios worker`` and ``aios worker release``: the shell over ``workflow.worker`` (tested there)."""

from __future__ import annotations

import json

from helpers import CALC, calc_task, write

from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.workspace import Workspace

STATIC = ["--builder", "external", "--reviewer", "static", "--no-sandbox"]


def ready_task(ws: Workspace) -> str:
    """An approved task whose change is committed on its branch (the calculator on main)."""
    write(ws.root, CALC)
    git.commit_all(ws.root, "calc")
    tid = calc_task(ws, started=False)
    git.remove_worktree(ws.root, tid)
    return tid


def test_once_reviews_one_task_and_prints_one_json_line(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    done = cli("-q", "worker", "--once", "--name", "ci-1", *STATIC, "--json")
    assert done.exit_code == 0, done.output
    [line] = done.stdout.splitlines()
    out = json.loads(line)
    assert (out["task"], out["adopted"], out["error"]) == (tid, False, None)
    assert (out["status"]["verdict"], out["status"]["waiting_for"]) == ("APPROVED", "human_review")
    assert tasks.get(ws, tid).status is Status.REVIEWING


def test_the_text_output_says_where_each_task_stopped(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    done = cli("-q", "worker", "--exit-when-idle", *STATIC)
    assert done.exit_code == 0, done.output
    assert done.stdout == f"took {tid}: reviewing, round 1, verdict APPROVED, waiting for human_review\n"


def test_nothing_ready_exits_at_once_with_nothing_printed(ws: Workspace, cli) -> None:
    done = cli("worker", "--once", *STATIC)
    assert (done.exit_code, done.stdout) == (0, "")


def test_releasing_a_task_no_worker_holds_is_refused(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    done = cli("worker", "release", tid, "--reason", "gone")
    assert done.exit_code == 1
    assert f"{tid} is not held by a worker" in done.output
    assert f"fix: `aios task status {tid}` shows its trail" in done.output


def test_a_bad_worker_name_is_refused_with_a_fix(ws: Workspace, cli) -> None:
    done = cli("worker", "--once", "--name", "a b")
    assert done.exit_code == 1
    assert "bad worker name 'a b'" in done.output
    assert "fix: use up to 64 letters, digits" in done.output
