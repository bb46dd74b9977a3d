"""Real repositories through the CLI: a default branch that is not ``main``, an external builder
committing on ``task/<ID>`` in a checkout of their own, a missing target branch, and a change
that writes aios's own state files (refused at the merge, with a way out).

Each review is static (evidence only, no model) and the builder external; commands run in the
sandbox where bubblewrap is available.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import plain_git
from typer.testing import CliRunner

from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.setup import init
from orchestrator.state.workspace import Workspace

SANDBOX_FLAGS = [] if bwrap_available() else ["--no-sandbox"]
CODE = {"calc.py": "def mul(a, b):\n    return a * b\n"}
TESTS = {
    "tests/__init__.py": "",
    "tests/test_calc.py": "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
}
GOOD = {**CODE, **TESTS}
BAD = {**CODE, "tests/__init__.py": "", "tests/test_calc.py": TESTS["tests/test_calc.py"].replace("6", "7")}

Aios = Callable[..., Any]


def make_ws(tmp_path: Path, branch: str) -> Workspace:
    """A repository on ``branch`` with one commit, made an aios workspace (state not committed)."""
    root = tmp_path / "repo"
    root.mkdir()
    plain_git(root, "init", "-q", "-b", branch)
    (root / "README.md").write_text("project\n")
    plain_git(root, "add", "-A")
    plain_git(root, "commit", "-q", "-m", "initial")
    ws, _ = init(root, owner="alice")
    return ws


def aios_in(ws: Workspace) -> Aios:
    """``aios`` in-process against ``ws`` as alice; returns the click Result."""
    from orchestrator.cli.app import app

    runner = CliRunner()

    def invoke(*args: str) -> Any:
        env = {"AIOS_ROOT": str(ws.root), "AIOS_ACTOR": "alice"}
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


def started(aios: Aios, *extra: str, queue: str = "dev") -> str:
    done = aios(
        "task", "new", "--queue", queue, "--title", "Add mul", "--criterion", "mul multiplies", *extra
    )
    assert done.exit_code == 0, done.output
    tid = done.stdout.strip()
    assert aios("task", "approve", tid).exit_code == 0
    assert aios("task", "start", tid).exit_code == 0
    return tid


def write_commit(checkout: Path, files: dict[str, str], message: str = "change") -> str:
    for rel, text in files.items():
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text(text)
    plain_git(checkout, "add", *files)
    plain_git(checkout, "commit", "-q", "-m", message)
    return plain_git(checkout, "rev-parse", "HEAD").strip()


def review(aios: Aios, command: str, tid: str, *extra: str) -> dict[str, Any]:
    args = ["review", command, tid, "--json", *extra]
    if command in ("run", "submit"):
        args += ["--reviewer", "static", *SANDBOX_FLAGS] + (
            ["--builder", "external"] if command == "run" else []
        )
    done = aios(*args)
    out = json.loads(done.stdout)
    # The exit-code contract: 3 is NEEDS_REVISION waiting for an external builder.
    revise = command in ("run", "submit") and out.get("waiting_for") == "builder"
    assert done.exit_code == (3 if revise else 0), done.output
    return out


def trailers(repo: Path, ref: str) -> str:
    return subprocess.run(
        ["git", "log", "-1", "--format=%(trailers)", ref],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


# ---- a default branch that is not main ----


@pytest.mark.parametrize("branch", ["master", "trunk"])
def test_a_task_on_a_master_or_trunk_repository_merges_into_that_branch(tmp_path: Path, branch: str) -> None:
    ws = make_ws(tmp_path, branch)
    aios = aios_in(ws)
    tid = started(aios)
    assert tasks.get(ws, tid).card == f"tasks/inbox/{tid}.md"
    assert f"\ntarget_branch: {branch}\n" in (ws.root / "tasks" / "inbox" / f"{tid}.md").read_text()
    plain_git(ws.root, "branch", f"task/{tid}")  # the builder's branch, worked in aios's worktree
    write_commit(git.ensure_worktree(ws.root, tid, branch), GOOD)

    assert review(aios, "run", tid)["verdict"] == "APPROVED"
    out = review(aios, "approve", tid)
    assert (out["status"], out["merged"]) == ("done", git.head(ws.root, branch))
    assert plain_git(ws.root, "show", f"{branch}:calc.py") == CODE["calc.py"]
    assert trailers(ws.root, branch) == (
        f"Approved-by: alice\nReview-report: ops/reviews/{tid}/round-1.md\nReview-round: 1"
    )
    assert not git.branch_exists(ws.root, "main")


def test_a_target_branch_that_does_not_exist_is_refused_with_a_fix(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "master")
    aios = aios_in(ws)
    tid = started(aios, "--target-branch", "main")
    done = aios("review", "run", tid, "--builder", "external", "--reviewer", "static", *SANDBOX_FLAGS)
    assert done.exit_code == 1
    assert f"tasks/inbox/{tid}.md: target_branch: the target branch 'main' does not exist" in done.output
    assert "\n  fix: set `target_branch:` in " in done.output and "Traceback" not in done.output


# ---- the task branch checked out elsewhere ----


def test_a_branch_checked_out_in_the_builders_own_worktree_is_reviewed_round_after_round(
    tmp_path: Path,
) -> None:
    ws = make_ws(tmp_path, "master")
    aios = aios_in(ws)
    tid = started(aios)
    builder = tmp_path / "builder"
    plain_git(ws.root, "worktree", "add", "-q", "-b", f"task/{tid}", str(builder), "master")
    first = write_commit(builder, BAD)
    (builder / "notes.txt").write_text("work in progress, never reviewed\n")

    out = review(aios, "run", tid)
    assert (out["verdict"], out["waiting_for"]) == ("NEEDS_REVISION", "builder")
    review_copy = ws.worktree(tid)
    assert git.head(review_copy) == first and not (review_copy / "notes.txt").exists()

    fixed = write_commit(builder, {"tests/test_calc.py": TESTS["tests/test_calc.py"]}, "fix the test")
    out = review(aios, "submit", tid)
    assert (out["round"], out["verdict"]) == (2, "APPROVED")
    assert git.head(review_copy) == fixed

    out = review(aios, "approve", tid)
    assert out["status"] == "done"
    assert git.head(ws.root) == out["merged"]  # master is checked out here: a real merge
    assert (ws.root / "calc.py").read_text() == CODE["calc.py"]
    assert "Review-round: 2" in trailers(ws.root, "master")
    assert f"Review-report: ops/reviews/{tid}/round-2.md" in trailers(ws.root, "master")


def test_a_branch_checked_out_in_the_main_checkout_is_reviewed_and_merged(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "master")
    aios = aios_in(ws)
    tid = started(aios)
    plain_git(ws.root, "switch", "-q", "-c", f"task/{tid}")
    sha = write_commit(ws.root, GOOD)

    assert review(aios, "run", tid)["verdict"] == "APPROVED"
    assert git.head(ws.worktree(tid)) == sha
    out = review(aios, "approve", tid)
    assert out["status"] == "done" and out["merged"] == git.head(ws.root, "master")
    assert plain_git(ws.root, "show", "master:calc.py") == CODE["calc.py"]
    assert plain_git(ws.root, "symbolic-ref", "--short", "HEAD").strip() == f"task/{tid}"  # left as it was


def test_the_agent_builder_refuses_a_branch_checked_out_elsewhere(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "master")
    aios = aios_in(ws)
    tid = started(aios)
    plain_git(ws.root, "switch", "-q", "-c", f"task/{tid}")
    done = aios("review", "run", tid, "--reviewer", "static", *SANDBOX_FLAGS)
    assert done.exit_code == 1
    assert f"task/{tid} is checked out in {ws.root}; the agent builder commits on it" in done.output
    assert f"`aios review run {tid} --builder external`" in done.output
    assert not ws.worktree(tid).exists()


# ---- a change that writes aios's own state files ----


def test_a_change_to_live_state_files_is_refused_at_the_merge_and_can_be_sent_back(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "master")
    aios = aios_in(ws)
    # The governance queue: elsewhere the review itself blocks a change to state/ (governance-canon);
    # here it passes, and the merge still refuses to write the live state files.
    tid = started(aios, queue="governance")
    plain_git(ws.root, "branch", f"task/{tid}")
    worktree = git.ensure_worktree(ws.root, tid, "master")
    write_commit(worktree, {**GOOD, "state/agents.yaml": "schema_version: 1\nagents: [intruder]\n"})
    assert review(aios, "run", tid)["verdict"] == "APPROVED"
    agents = ws.agents_file.read_text()  # the run registered its built-in agents
    before = git.head(ws.root, "master")

    done = aios("review", "approve", tid)
    assert done.exit_code == 1
    assert f"{tid}'s change writes aios's own state files (state/agents.yaml)" in done.output
    assert (
        f'fix: send the change back to the builder: `aios review reject {tid} --feedback "..."`'
        in done.output
    )
    assert ws.agents_file.read_text() == agents and git.head(ws.root, "master") == before
    assert "aios review reject" in (review(aios, "status", tid)["note"] or "")

    out = review(aios, "reject", tid, "--feedback", "leave state/ alone")
    assert (out["status"], out["waiting_for"], out["round"]) == ("running", "builder", 1)
    plain_git(worktree, "rm", "-q", "state/agents.yaml")
    plain_git(worktree, "commit", "-q", "-m", "drop the state file")
    assert review(aios, "submit", tid)["verdict"] == "APPROVED"
    assert review(aios, "approve", tid)["status"] == "done"
    assert ws.agents_file.read_text() == agents
    assert plain_git(ws.root, "show", "master:calc.py") == CODE["calc.py"]
