"""The graph's control flow with scripted builder/check/aggregate steps, on real git and SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import fired, plain_git, poison_nested_repo
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from orchestrator import git, tasks
from orchestrator.graph import RunContext, build_graph
from orchestrator.lifecycle import Status
from orchestrator.review.findings import Dimension
from orchestrator.taskcard import Criterion, TaskCard
from orchestrator.workflow import WorkflowSettings
from orchestrator.workspace import Workspace


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

    def check(self, ctx: RunContext, state: dict[str, Any], dim: Dimension) -> dict[str, Any]:
        if dim is self.crash_once:
            self.crash_once = None
            raise RuntimeError("injected crash")
        self.checks.append((state["round"], dim.value))
        return {"dimension": dim.value, "findings": [], "errors": [], "evidence": []}

    def aggregate(
        self, ctx: RunContext, state: dict[str, Any], checks: list[dict[str, Any]]
    ) -> dict[str, Any]:
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
    tasks.transition(ws, tid, "approve", actor="alice")
    tasks.transition(ws, tid, "start", actor="alice")
    git.ensure_worktree(ws.root, tid, "main")
    return ws, card.model_copy(update={"id": tid})


def _run(ws: Workspace, card: TaskCard, script: Script, command: Any, max_rounds: int = 3) -> dict[str, Any]:
    ctx = RunContext(
        ws=ws,
        card=card,
        workflow=WorkflowSettings(rounds={"max": max_rounds}),
        builder=script.builder,
        check=script.check,
        aggregate=script.aggregate,
    )
    conn = sqlite3.connect(ws.state_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        graph = build_graph(SqliteSaver(conn))
        config = {"configurable": {"thread_id": card.id}}
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


@pytest.mark.parametrize("caught_by", ["commit", "scope check"])
def test_a_round_that_writes_a_nested_repository_is_blocked_as_a_security_finding(
    started, tmp_path: Path, caught_by: str
) -> None:
    """A check the builder ran wrote ``src/vendor/.git``: nothing is committed and none of it runs."""
    from orchestrator.pipeline import _revert_out_of_scope

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
