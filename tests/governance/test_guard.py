"""``governance.guard``: a running review stops within one step of a person stopping it.

The end-to-end cases drive the real ``runs.run`` in a thread, with the agent builder on a fake
model that waits at its first call until the test has stopped the run (``aios freeze``, ``aios
task stop``, or a hand edit of ``state/tasks.yaml``). The builder's next step is refused, nothing
is committed or merged, and once a person lifts the stop the same run resumes and completes.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import run_aios

from orchestrator.errors import RunStopped
from orchestrator.governance import actions
from orchestrator.governance.guard import RunGuard
from orchestrator.llm.base import Message
from orchestrator.llm.fake import FakeInfo, FakeModel, install_fake, tool_call
from orchestrator.review.round import CheckResult
from orchestrator.sandbox import git
from orchestrator.state import sessions as session_store
from orchestrator.state import tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import EventKind
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import graph as graph_module
from orchestrator.workflow import runs
from orchestrator.workflow.graph import RUN_ACTORS, RunContext, build_graph, ensure_status
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.settings import WorkflowSettings

OPTIONS = RunOptions(builder_mode="agent", reviewer_mode="model", sandbox=False)
CALC = "def add(a, b):\n    return a + b\n"
MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
CHECK = 'python -c "from calc import mul; assert mul(2, 3) == 6"'
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
MUL_TESTS = (
    TESTS.replace("import add", "import add, mul") + "\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


class GatedModel:
    """The builder writes ``calc.py`` and its test, then finishes; reviewers find nothing.

    While ``gate`` is set, the builder's first call of a round signals ``asked`` and waits for
    ``go``: the test stops the run in between, so the reply comes back to a stopped run.
    """

    def __init__(self, *, gated: bool) -> None:
        self.asked, self.go = threading.Event(), threading.Event()
        self.gated = gated
        self.builder_calls = 0

    def __call__(self, messages: list[Message], info: FakeInfo) -> Any:
        if info.output is not None:  # a reviewer persona
            return {"findings": []}
        self.builder_calls += 1
        done = sum(1 for m in messages if m.role == "tool")
        if done == 0 and self.gated:
            self.asked.set()
            assert self.go.wait(30), "the test never let the builder go on"
        if done == 0:
            return tool_call("write_file", path="calc.py", content=MUL)
        if done == 1:
            return tool_call("write_file", path="test_calc.py", content=MUL_TESTS)
        return tool_call("finish", summary="Add mul")


@pytest.fixture
def task(ws: Workspace) -> str:
    """A started dev task whose card asks for ``mul``; ``main`` holds ``calc.py`` with ``add``."""
    (ws.root / "calc.py").write_text(CALC)
    (ws.root / "test_calc.py").write_text(TESTS)
    git.commit_all(ws.root, "calc")
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Add mul",
        queue="dev",
        personas=["testing_expert"],
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=CHECK)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    return tid


def run_in_thread(ws: Workspace, tid: str) -> tuple[threading.Thread, dict[str, Any]]:
    """``runs.run`` in a thread; the returned dict gets its ``status`` or its ``error``."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["status"] = runs.run(ws, tid, OPTIONS, actor="alice")
        except BaseException as exc:  # noqa: BLE001 - handed to the test, which asserts on it
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def _edit_index(ws: Workspace, pattern: str, replacement: str) -> None:
    text = ws.index_file.read_text()
    edited = re.sub(pattern, replacement, text, count=1, flags=re.M)
    assert edited != text
    ws.index_file.write_text(edited)


def _freeze(ws: Workspace, tid: str) -> Callable[[], None]:
    done = run_aios("freeze", "--reason", "incident 42", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    return lambda: actions.unfreeze(ws, actor="alice")


def _stop(ws: Workspace, tid: str) -> Callable[[], None]:
    done = run_aios("task", "stop", tid, "--reason", "runaway builder", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    return lambda: actions.transition(ws, tid, "unblock", actor="alice")


def _hand_blocked(ws: Workspace, tid: str) -> Callable[[], None]:
    _edit_index(ws, rf"^  {tid}: \{{status: running,", f"  {tid}: {{status: blocked, event: emergency_stop,")
    return lambda: actions.transition(ws, tid, "unblock", actor="alice")


def _hand_locked(ws: Workspace, tid: str) -> Callable[[], None]:
    _edit_index(ws, r"^  dev: .*$", "  dev: SYSTEM_LOCK")
    return lambda: actions.set_lock(ws, ["dev"], locked=False, actor="alice")


def _builder_session(ws: Workspace) -> str:
    """The live session the run's built-in builder acts in."""
    live = [s for s in session_store.load(ws).sessions if s.agent_id == "builder" and s.live()]
    assert len(live) == 1, live
    return live[0].id


def _session_terminated(ws: Workspace, tid: str) -> Callable[[], None]:
    done = run_aios("session", "terminate", _builder_session(ws), "--reason", "misbehaving", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    return lambda: None  # the next run opens new sessions


def _session_hand_terminated(ws: Workspace, tid: str) -> Callable[[], None]:
    text = ws.sessions_file.read_text()
    at = text.index(f"id: {_builder_session(ws)}")
    ws.sessions_file.write_text(text[:at] + text[at:].replace("state: active", "state: terminated", 1))
    return lambda: None


STOPS = {
    "aios freeze": (_freeze, "the system is frozen since"),
    "aios task stop": (_stop, "was stopped (emergency stop) by alice (runaway builder)"),
    "hand edit: status blocked": (
        _hand_blocked,
        "was stopped (emergency stop) by hand edit of state/tasks.yaml",
    ),
    "hand edit: queue SYSTEM_LOCK": (_hand_locked, "queue dev is locked (SYSTEM_LOCK by a hand edit"),
    "aios session terminate": (_session_terminated, "of agent:builder was terminated by alice (misbehaving)"),
    "hand edit: session terminated": (
        _session_hand_terminated,
        "of agent:builder was terminated by hand",
    ),
}


@pytest.mark.parametrize("how", list(STOPS))
def test_a_running_review_stops_within_one_step_and_resumes_after_the_stop_is_lifted(
    ws: Workspace, task: str, how: str
) -> None:
    stop, message = STOPS[how]
    main = git.head(ws.root)
    model = GatedModel(gated=True)
    with install_fake(FakeModel(model)):
        thread, out = run_in_thread(ws, task)
        assert model.asked.wait(60), out
        lift = stop(ws, task)
        model.go.set()
        thread.join(60)
        assert not thread.is_alive()

        error = out.get("error")
        assert isinstance(error, RunStopped), out
        assert f"{task}'s run stopped before it could run the builder's next tool call" in error.message
        assert message in error.message
        assert f"`aios review run {task}` resumes from the checkpoint" in (error.fix or "")
        # Within one step: the builder's reply was never acted on, nothing committed or merged.
        worktree = git.worktree_path(ws.root, task)
        assert (worktree / "calc.py").read_text() == CALC
        assert _git(ws.root, "rev-list", f"main..{git.branch_name(task)}") == ""
        assert git.head(ws.root) == main
        assert model.builder_calls == 1
        assert not any(e.actor in RUN_ACTORS for e in tasks.get(ws, task).events)

        if "session" not in how:  # a new run opens new sessions; the other stops still hold
            with pytest.raises(RunStopped):
                runs.run(ws, task, OPTIONS, actor="alice")
            assert model.builder_calls == 1

        lift()
        model.gated = False
        resumed = runs.run(ws, task, OPTIONS, actor="alice")
    assert (resumed.verdict, resumed.waiting_for) == ("APPROVED", "human_review"), resumed
    merged = runs.answer(ws, task, "approve", actor="alice", options=OPTIONS)
    assert merged.merged and merged.status == "done"
    assert "def mul" in _git(ws.root, "show", "main:calc.py")


def test_approving_a_frozen_or_stopped_task_merges_nothing(ws: Workspace, task: str) -> None:
    with install_fake(FakeModel(GatedModel(gated=False))):
        assert runs.run(ws, task, OPTIONS, actor="alice").waiting_for == "human_review"
    main = git.head(ws.root)
    actions.freeze(ws, actor="alice", reason="audit")
    with pytest.raises(RunStopped) as caught:
        runs.answer(ws, task, "approve", actor="alice", options=OPTIONS)
    assert caught.value.message.startswith(
        f"{task}'s run stopped before it could merge {task}: the system is frozen"
    )
    assert caught.value.fix == (
        "the project owner lifts the freeze with `aios unfreeze` (see ops/freeze/ for why it froze); "
        f"then `aios review approve {task}` again"
    )
    actions.unfreeze(ws, actor="alice")
    actions.stop(ws, task, actor="bob", reason="wrong target")
    with pytest.raises(RunStopped, match=r"was stopped \(emergency stop\) by bob \(wrong target\)") as caught:
        runs.answer(ws, task, "approve", actor="alice", options=OPTIONS)
    assert caught.value.fix == (
        f"a member unblocks it with `aios task unblock {task}`; then `aios review approve {task}` again"
    )
    assert git.head(ws.root) == main
    actions.transition(ws, task, "unblock", actor="alice")
    assert runs.answer(ws, task, "approve", actor="alice", options=OPTIONS).merged


# ---- the graph, with scripted steps: a person acting mid-run ----


class Script:
    """A builder that lets ``during`` act (as a person would, mid-round) and then writes a file."""

    def __init__(self, during: Callable[[], None] | None = None) -> None:
        self.during = during
        self.checks = 0

    def builder(self, ctx: RunContext, state: dict[str, Any]) -> str:
        if self.during is not None:
            self.during()
        (git.worktree_path(ctx.ws.root, ctx.card.id) / "feature.py").write_text("X = 1\n")
        return "feature"

    def check(self, ctx: RunContext, state: dict[str, Any], dim: Any) -> CheckResult:
        self.checks += 1
        return CheckResult(dimension=dim)

    def aggregate(self, ctx: RunContext, state: dict[str, Any], checks: list[CheckResult]) -> dict[str, Any]:
        return {"verdict": "APPROVED", "reasons": [], "findings": [], "feedback": []}


def invoke(ws: Workspace, tid: str, script: Script) -> None:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    card = runs.load_card(ws, tid)
    ctx = RunContext(
        ws=ws,
        card=card,
        workflow=WorkflowSettings(),
        builder=script.builder,
        check=script.check,
        aggregate=script.aggregate,
    )
    git.ensure_worktree(ws.root, tid, "main")
    start = {"task_id": tid, "round": 0, "base": git.head(ws.root), "checks": {}, "feedback": []}
    conn = sqlite3.connect(ws.checkpoints_db, check_same_thread=False)
    try:
        with runs.run_agents(ws, card, by="alice") as ctx.sessions:
            build_graph(SqliteSaver(conn)).invoke(
                start, {"configurable": {"thread_id": tid}}, context=ctx, durability="sync"
            )
    finally:
        conn.close()


def test_a_humans_finish_during_the_run_stands(ws: Workspace, task: str) -> None:
    """Today's bug: the reviewer moved the task back after a person finished it by hand."""
    script = Script(lambda: actions.transition(ws, task, "finish", actor="alice", reason="done by hand"))
    with pytest.raises(RunStopped) as caught:
        invoke(ws, task, script)
    assert caught.value.message == (
        f"{task}'s run stopped before it could commit round 1: alice moved {task} from running to reviewing "
        "while the run was going (done by hand), and that decision stands"
    )
    assert caught.value.fix == (
        f"check it with `aios task status {task}`; then `aios review run {task}` resumes from the checkpoint"
    )
    events = tasks.get(ws, task).events
    assert (events[-1].actor, events[-1].to) == ("alice", Status.REVIEWING)
    assert script.checks == 0
    assert _git(ws.root, "rev-list", f"main..{git.branch_name(task)}") == ""


def test_a_block_during_the_run_stops_it_with_who_and_why_not_a_permission_error(
    ws: Workspace, task: str
) -> None:
    script = Script(lambda: actions.transition(ws, task, "block", actor="bob", reason="needs a decision"))
    with pytest.raises(RunStopped) as caught:
        invoke(ws, task, script)
    assert caught.value.message == (
        f"{task}'s run stopped before it could commit round 1: {task} was blocked by bob (needs a decision)"
    )
    assert tasks.get(ws, task).status is Status.BLOCKED


def test_a_task_stopped_before_the_run_does_not_resume_on_its_own(ws: Workspace, task: str) -> None:
    actions.stop(ws, task, actor="alice", reason="hold")
    script = Script()
    with pytest.raises(
        RunStopped, match=r"before it could start round 1: .* stopped \(emergency stop\) by alice"
    ):
        invoke(ws, task, script)
    assert tasks.get(ws, task).events[-1].kind is EventKind.EMERGENCY_STOP


def test_the_runs_own_escalation_block_does_not_stop_it(ws: Workspace, task: str) -> None:
    """Blocked by the run itself (an escalation): a human decision goes on from there."""
    with runs.run_agents(ws, runs.load_card(ws, task), by="alice") as agents:
        reviewer = agents[graph_module.REVIEWER]
        actions.transition(ws, task, "block", actor=reviewer.actor, session=reviewer, reason="escalated")
    guard = RunGuard.begin(ws, task, own=RUN_ACTORS)
    guard.check("decide")  # no RunStopped


def test_a_move_is_refused_under_the_lock_when_someone_else_moved_first(ws: Workspace, task: str) -> None:
    """The guard's check and the run's move are one step under the state lock: no race undoes a stop."""
    with runs.run_agents(ws, runs.load_card(ws, task), by="alice") as agents:
        guard = RunGuard.begin(ws, task, own=RUN_ACTORS)
        ctx = SimpleNamespace(ws=ws, guard=guard, session_of=agents.get)
        actions.transition(ws, task, "finish", actor="alice")
        with pytest.raises(RunStopped, match="alice moved"):
            ensure_status(ctx, task, Status.RUNNING, actor=graph_module.REVIEWER, reason="revise")
        assert tasks.get(ws, task).status is Status.REVIEWING
        # The run's own moves do not stop it: they are accounted for as they happen.
        actions.transition(ws, task, "reject", actor="alice")
        ctx.guard = guard = RunGuard.begin(ws, task, own=RUN_ACTORS)
        ensure_status(ctx, task, Status.CODE_REVIEW, actor=graph_module.BUILDER, reason="submit")
        ensure_status(ctx, task, Status.REVIEWING, actor=graph_module.REVIEWER, reason="approved")
        guard.check("merge")


def test_the_sessions_hook_can_stop_a_run(ws: Workspace, task: str) -> None:
    guard = RunGuard.begin(ws, task, own=RUN_ACTORS)

    def ended(doing: str) -> None:
        raise RunStopped(f"session s-1 was terminated before {doing}", fix="start a new session")

    guard.sessions_live = ended
    with pytest.raises(RunStopped, match="terminated"):
        guard.check("call a model")
