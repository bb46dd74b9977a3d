"""The graph's control flow with scripted builder/check/aggregate steps, on real git and SQLite."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import fired, plain_git, poison_nested_repo
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from orchestrator.governance import actions
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.round import CheckResult
from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.audit import recorded_count
from orchestrator.state.lifecycle import Status
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import graph as graph_module
from orchestrator.workflow import runs
from orchestrator.workflow import wiring as pipeline
from orchestrator.workflow.graph import RunContext, build_graph
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.settings import WorkflowSettings


class Script:
    """Verdicts per round, and counters of what ran."""

    def __init__(self, verdicts: list[str], *, crash_once: Dimension | None = None) -> None:
        self.verdicts = verdicts
        self.crash_once = crash_once
        self.builds = 0
        self.checks: list[tuple[int, str]] = []

    def builder(self, ctx: RunContext, state: dict[str, Any]) -> str:
        self.builds += 1
        wt = git.worktree_path(ctx.ws.root, ctx.card.id)
        (wt / "feature.py").write_text(f"ROUND = {state['round']}\n")
        return f"round {state['round']}"

    def check(self, ctx: RunContext, state: dict[str, Any], dim: Dimension) -> CheckResult:
        if dim is self.crash_once:
            self.crash_once = None
            # Crash once the other three checks are saved: a check not started, or not saved,
            # when one fails is unfinished work (run again on resume), which on a loaded machine
            # the scheduler would decide at random.
            _wait_for_saved_checks(ctx, 3)
            raise RuntimeError("injected crash")
        self.checks.append((state["round"], dim.value))
        return CheckResult(dimension=dim)

    def aggregate(self, ctx: RunContext, state: dict[str, Any], checks: list[CheckResult]) -> dict[str, Any]:
        assert len(checks) == 4
        verdict = self.verdicts[state["round"] - 1]
        return {
            "verdict": verdict,
            "reasons": [f"scripted {verdict}"],
            "findings": [],
            "feedback": ["fix it"],
        }


@pytest.fixture
def started(ws: Workspace) -> tuple[Workspace, TaskCard]:
    (ws.root / "README.md").write_text("demo\n")
    git.commit_all(ws.root, "initial")
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Feature",
        queue="dev",
        acceptance_criteria=[Criterion(id="AC1", text="works")],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    git.ensure_worktree(ws.root, tid, "main")
    return ws, card.model_copy(update={"id": tid})


def _wait_for_saved_checks(ctx: RunContext, count: int) -> None:
    """Until ``count`` tasks of the step under way have their writes in the checkpoint database."""
    deadline = time.monotonic() + 60
    with contextlib.closing(sqlite3.connect(ctx.ws.checkpoints_db)) as db:
        while time.monotonic() < deadline:
            saved = db.execute(
                "SELECT COUNT(DISTINCT task_id) FROM writes WHERE thread_id = ? AND checkpoint_id = "
                "(SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ?)",
                (ctx.card.id, ctx.card.id),
            ).fetchone()[0]
            if saved >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"fewer than {count} checks saved in 60 s")


def _run(ws: Workspace, card: TaskCard, script: Script, command: Any, max_rounds: int = 3) -> dict[str, Any]:
    ctx = RunContext(
        ws=ws,
        card=card,
        workflow=WorkflowSettings(rounds={"max": max_rounds}),
        builder=script.builder,
        check=script.check,
        aggregate=script.aggregate,
    )
    conn = sqlite3.connect(ws.checkpoints_db, check_same_thread=False)
    try:
        graph = build_graph(SqliteSaver(conn))
        config = {"configurable": {"thread_id": card.id}}
        with runs.run_agents(ws, card, by="alice") as ctx.sessions:
            graph.invoke(command, config, context=ctx, durability="sync")
        state = graph.get_state(config)
        pending = [i.value for t in state.tasks for i in t.interrupts]
        return {**state.values, "pending": pending, "next": state.next}
    finally:
        conn.close()


def _start(card: TaskCard, ws: Workspace) -> dict[str, Any]:
    base = git.head(ws.root)
    return {"task_id": card.id, "round": 0, "base": base, "checks": {}, "feedback": [], "findings": []}


def approve(actor: str = "alice") -> Command:
    return Command(resume={"action": "approve", "actor": actor})


def test_approved_in_round_one_waits_for_a_human_then_merges_once(started) -> None:
    ws, card = started
    script = Script(["APPROVED"])
    out = _run(ws, card, script, _start(card, ws))
    assert out["pending"][0]["kind"] == "human_review"
    assert tasks.get(ws, card.id).status is Status.REVIEWING
    # A new process (new connection, new graph) approves from the checkpoint.
    out = _run(ws, card, Script([]), approve())
    assert out["merged"] and tasks.get(ws, card.id).status is Status.DONE
    assert (ws.root / "feature.py").read_text() == "ROUND = 1\n"  # merged into the checked-out main
    merges = git.head(ws.root)
    # Approving again does nothing: no interrupt is pending, and main does not move.
    out = _run(ws, card, Script([]), approve())
    assert out["merged"] and out["pending"] == []
    assert git.head(ws.root) == merges
    assert script.builds == 1


def test_nodes_get_models_and_the_checkpoint_keeps_plain_data(started) -> None:
    """Checks and findings cross the checkpoint through one seam (``workflow.checkpoint``)."""
    import json

    ws, card = started
    finding = Finding(dimension=Dimension.QUALITY, severity=Severity.MINOR, file="feature.py", message="hm")
    script = Script(["APPROVED"])
    seen: list[list[CheckResult]] = []

    def check(ctx: RunContext, state: dict[str, Any], dim: Dimension) -> CheckResult:
        return CheckResult(dimension=dim, findings=[finding] if dim is Dimension.QUALITY else [])

    def aggregate(ctx: RunContext, state: dict[str, Any], checks: list[CheckResult]) -> dict[str, Any]:
        seen.append(checks)
        return {**scripted(ctx, state, checks), "findings": [f for c in checks for f in c.findings]}

    scripted = script.aggregate
    script.check, script.aggregate = check, aggregate  # type: ignore[method-assign]
    _run(ws, card, script, _start(card, ws))
    out = _run(ws, card, Script([]), approve())
    assert [c.dimension for c in seen[0]] == list(Dimension) and seen[0][0].findings == [finding]
    values = {k: v for k, v in out.items() if k not in ("pending", "next")}
    assert json.loads(json.dumps(values)) == values  # nothing but JSON types was checkpointed
    assert values["findings"] == [finding.model_dump(mode="json")]
    assert values["checks"]["1:Q"]["findings"] == values["findings"]
    assert values["decision"] == {"action": "approve", "actor": "alice", "feedback": None}


def test_revise_then_approve(started) -> None:
    ws, card = started
    script = Script(["NEEDS_REVISION", "APPROVED"])
    out = _run(ws, card, script, _start(card, ws))
    assert out["round"] == 2 and out["pending"][0]["kind"] == "human_review"
    assert script.builds == 2
    events = [(e.from_, e.to) for e in tasks.get(ws, card.id).events]
    assert ("code_review", "running") in events  # the revision went back to the builder


def test_rounds_exhausted_escalate(started) -> None:
    ws, card = started
    out = _run(ws, card, Script(["NEEDS_REVISION"] * 2), _start(card, ws), max_rounds=2)
    assert out["pending"][0]["kind"] == "escalation"
    assert "2 review rounds used up" in out["pending"][0]["reason"]
    assert tasks.get(ws, card.id).status is Status.BLOCKED


def test_blocked_escalates_and_a_human_can_send_it_back(started) -> None:
    ws, card = started
    script = Script(["BLOCKED", "APPROVED"])
    out = _run(ws, card, script, _start(card, ws))
    assert out["pending"][0]["kind"] == "escalation"
    out = _run(
        ws, card, script, Command(resume={"action": "reject", "actor": "alice", "feedback": "try again"})
    )
    assert out["round"] == 2 and out["pending"][0]["kind"] == "human_review"


def test_human_reject_with_feedback_starts_a_new_round(started) -> None:
    ws, card = started
    script = Script(["APPROVED", "APPROVED"])
    _run(ws, card, script, _start(card, ws))
    seen: list[list[str]] = []
    original = script.builder
    script.builder = lambda ctx, state: (seen.append(state["feedback"]), original(ctx, state))[1]  # type: ignore[method-assign]
    out = _run(
        ws, card, script, Command(resume={"action": "reject", "actor": "alice", "feedback": "rename it"})
    )
    assert out["round"] == 2 and out["pending"][0]["kind"] == "human_review"
    assert seen == [["Human reviewer (alice): rename it"]]


def test_crash_in_a_check_resumes_only_the_unfinished_work(started) -> None:
    ws, card = started
    script = Script(["APPROVED"], crash_once=Dimension.COMPLETENESS)
    with pytest.raises(RuntimeError, match="injected crash"):
        _run(ws, card, script, _start(card, ws))
    assert sorted(script.checks) == [(1, "O"), (1, "Q"), (1, "R")]
    out = _run(ws, card, script, None)  # what `aios review run` does on an unfinished thread
    assert out["pending"][0]["kind"] == "human_review"
    assert sorted(script.checks) == [(1, "C"), (1, "O"), (1, "Q"), (1, "R")]  # C once more, nothing else
    assert script.builds == 1


def test_graph_shape_snapshot() -> None:
    mermaid = build_graph().get_graph().draw_mermaid()
    for edge in (
        "submit --> check_Q;",
        "check_O --> aggregate;",
        "aggregate -.-> human_review;",
        "aggregate -.-> escalate;",
        "human_review -.-> merge;",
        "escalate -.-> builder;",
    ):
        assert edge in mermaid


def test_a_revision_round_without_any_change_is_blocked_not_re_reviewed(started) -> None:
    ws, card = started
    script = Script(["NEEDS_REVISION", "APPROVED"])
    script.builder = lambda ctx, state: (  # type: ignore[method-assign]
        (git.worktree_path(ctx.ws.root, ctx.card.id) / "feature.py").write_text("SAME = 1\n"),
        "same change",
    )[1]
    out = _run(ws, card, script, _start(card, ws))
    assert out["pending"][0]["kind"] == "escalation"
    assert "the builder changed nothing since round 1 was reviewed" in out["pending"][0]["reason"]
    assert [r for r, _ in script.checks] == [1, 1, 1, 1]  # round 2 was not reviewed at all


class Killed(BaseException):
    """Stands in for SIGKILL inside a node: the node's step is not checkpointed."""


def _kill_after(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, when: Callable[..., bool]) -> None:
    """Let ``target.name`` run once more, then die right after the call ``when`` accepts."""
    real = getattr(target, name)

    def dying(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if when(*args, **kwargs):
            monkeypatch.setattr(target, name, real)
            raise Killed
        return result

    monkeypatch.setattr(target, name, dying)


def test_a_kill_in_aggregate_after_the_status_move_records_the_round_note_once(
    started, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, card = started
    script = Script(["APPROVED"])
    scripted = script.aggregate

    def aggregate(ctx: RunContext, state: dict[str, Any], checks: list[CheckResult]) -> dict[str, Any]:
        outcome = scripted(ctx, state, checks)  # the real aggregator notes the round, as here
        reason = f"review round {state['round']}: {outcome['verdict']}"
        tasks.note(ctx.ws, card.id, actor="agent:reviewer", reason=reason, artifacts=["round-1.md"])
        return outcome

    script.aggregate = aggregate  # type: ignore[method-assign]
    _kill_after(
        monkeypatch, graph_module, "ensure_status", lambda ws, tid, want, **k: want is Status.REVIEWING
    )
    with pytest.raises(Killed):
        _run(ws, card, script, _start(card, ws))
    out = _run(ws, card, script, None)  # resumed: aggregate runs again
    assert out["pending"][0]["kind"] == "human_review"
    reasons = [e.reason for e in tasks.get(ws, card.id).events]
    assert reasons.count("review round 1: APPROVED") == 2  # the note and the move to reviewing, once each
    assert recorded_count(ws, card.id) == len(reasons)


@pytest.mark.parametrize("finish", ["approve", "run"])
def test_a_kill_inside_the_merge_node_is_finished_by_review_approve(
    started, monkeypatch: pytest.MonkeyPatch, finish: str
) -> None:
    ws, card = started
    _run(ws, card, Script(["APPROVED"]), _start(card, ws))
    _kill_after(monkeypatch, git, "merge", lambda *a, **k: True)  # merged; the status write never came
    with pytest.raises(Killed):
        _run(ws, card, Script([]), approve())
    assert tasks.get(ws, card.id).status is Status.REVIEWING
    merge = git.head(ws.root)
    assert runs.status(ws, card.id).note == (
        f"{card.id}'s merge was approved but did not finish: `aios review approve {card.id}` finishes it"
    )

    def no_models(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("finishing a merge built a model")

    monkeypatch.setattr(pipeline.Models, "for_role", no_models)
    unsandboxed = RunOptions(sandbox=False)
    rejected = runs.answer(ws, card.id, "reject", actor="alice", feedback="x", options=unsandboxed)
    assert "approve" in (rejected.note or "")
    if finish == "approve":
        out = runs.answer(ws, card.id, "approve", actor="alice", options=unsandboxed)  # no model, no key
    else:  # `aios review run` resumes it too, without building (or demanding keys for) any model
        out = runs.run(ws, card.id, unsandboxed, actor="alice")
    assert (out.status, out.merged) == ("done", merge)
    assert git.head(ws.root) == merge  # merged once
    assert _git_out(ws, "rev-list", "--merges", "main").split() == [merge]
    events = tasks.get(ws, card.id).events
    assert [e.to for e in events].count(Status.DONE) == 1
    assert recorded_count(ws, card.id) == len(events)


def _git_out(ws: Workspace, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=ws.root, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("caught_by", ["commit", "scope check"])
def test_a_round_that_writes_a_nested_repository_is_blocked_as_a_security_finding(
    started, tmp_path: Path, caught_by: str
) -> None:
    """A check the builder ran wrote ``src/vendor/.git``: nothing is committed and none of it runs."""
    from orchestrator.workflow.wiring import _revert_out_of_scope

    ws, card = started
    markers = tmp_path / "markers"
    script = Script(["APPROVED", "APPROVED"])

    def builder(ctx: RunContext, state: dict[str, Any]) -> str:
        wt = git.worktree_path(ctx.ws.root, ctx.card.id)
        if state["round"] == 1:
            poison_nested_repo(wt, markers)
        (wt / "feature.py").write_text(f"ROUND = {state['round']}\n")
        if caught_by == "scope check":
            _revert_out_of_scope(ctx)  # what the agent builder does after its loop
        return f"round {state['round']}"

    script.builder = builder  # type: ignore[method-assign]
    wt = git.worktree_path(ws.root, card.id)
    base = git.head(wt)
    out = _run(ws, card, script, _start(card, ws))
    reason = out["pending"][0]["reason"]
    assert out["pending"][0]["kind"] == "escalation" and script.checks == []
    assert "security (critical) nested-git" in reason and "src/vendor/.git" in reason
    assert git.head(wt) == base  # nothing was committed
    assert not (wt / "src" / "vendor" / ".git").exists() and (wt / "src" / "vendor" / "lib.py").exists()
    assert tasks.get(ws, card.id).status is Status.BLOCKED
    assert "nested-git" in (ws.audit_dir / f"{card.id}.md").read_text()
    # Sent back, the next round commits the (now plain) files: no gitlink, and still nothing ran.
    out = _run(ws, card, script, Command(resume={"action": "reject", "actor": "alice", "feedback": "again"}))
    assert out["round"] == 2 and out["pending"][0]["kind"] == "human_review"
    assert "160000" not in plain_git(wt, "ls-tree", "-r", "HEAD")
    assert fired(markers) == []


def test_a_critical_security_finding_escalates_by_itself_once(started) -> None:
    from orchestrator.state import escalations as escalation_store
    from orchestrator.state.escalations import EscalationType

    ws, card = started
    leaked = Finding(
        dimension=Dimension.QUALITY, severity=Severity.CRITICAL, file="feature.py", line=1,
        rule="secret", message="a key", source="detect-secrets",
    )  # fmt: skip
    minor = Finding(
        dimension=Dimension.QUALITY, severity=Severity.CRITICAL, file="feature.py", message="style"
    )
    script = Script(["NEEDS_REVISION", "NEEDS_REVISION"])
    scripted = script.aggregate

    def aggregate(ctx: RunContext, state: dict[str, Any], checks: list[CheckResult]) -> dict[str, Any]:
        return {**scripted(ctx, state, checks), "findings": [leaked, minor]}

    script.aggregate = aggregate  # type: ignore[method-assign]
    _run(ws, card, script, _start(card, ws), max_rounds=2)
    opened = escalation_store.load(ws).escalations
    assert [(e.type, e.task_id, e.raised_by) for e in opened] == [
        (EscalationType.SECURITY, card.id, "agent:reviewer")
    ]  # two rounds found it; one escalation is open, and the non-security critical one raised none
    assert opened[0].reason == "review round 1: 1 critical security finding(s): Q secret feature.py:1"
    assert "a key" not in opened[0].reason  # the finding's words stay out of the append-only trail


def test_a_round_that_finds_the_critical_security_finding_fixed_closes_its_escalation(started) -> None:
    """Else a fixed finding's escalation would run on to a freeze hours after the merge."""
    from orchestrator.state import escalations as escalation_store
    from orchestrator.state.escalations import EscalationState

    ws, card = started
    leaked = Finding(
        dimension=Dimension.QUALITY, severity=Severity.CRITICAL, file="feature.py", line=1,
        rule="secret", message="a key", source="detect-secrets",
    )  # fmt: skip
    script = Script(["NEEDS_REVISION", "APPROVED"])
    scripted = script.aggregate

    def aggregate(ctx: RunContext, state: dict[str, Any], checks: list[CheckResult]) -> dict[str, Any]:
        out = scripted(ctx, state, checks)
        return {**out, "findings": [leaked] if out["verdict"] == "NEEDS_REVISION" else []}

    script.aggregate = aggregate  # type: ignore[method-assign]
    out = _run(ws, card, script, _start(card, ws))
    assert out["pending"][0]["kind"] == "human_review"
    [closed] = escalation_store.load(ws).escalations
    assert (closed.state, closed.due_at) == (EscalationState.ANSWERED, None)
    assert closed.note == "review round 2 finds no critical security finding: fixed"
    assert f"escalation {closed.id} answered: review round 2" in ws.audit_file(card.id).read_text()
