"""The pair-programming workflow as a LangGraph graph.

    builder ─► submit ─┬─ check_Q ─┐
       ▲               ├─ check_R ─┤  (in parallel)
       │               ├─ check_C ─┤
       │               └─ check_O ─┘
       │                     ▼
       ├──NEEDS_REVISION── aggregate ──APPROVED──► human_review ──approve──► merge
       │                     │ BLOCKED / rounds exhausted      │ reject
       ├──────retry──────  escalate (interrupt)                 │
       └────────────────────────────────────────────────────────┘

Nodes get the workspace, models and settings from the run context, never from globals: the graph
is invoked with a plain-data ``RunSpec`` (so LangGraph Server can run it too) and ``context_of``
builds the ``RunContext`` from it once per process. Every side effect is idempotent (a task status is
*ensured*, a report rewritten with the same content, a merge done once) or sits after
``interrupt()``, so a resumed node never repeats one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from orchestrator.errors import AiosError, RunStopped, StateError
from orchestrator.governance import actions, escalations
from orchestrator.redact import redact
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.policy import is_security
from orchestrator.review.round import CheckResult
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import SandboxUnavailable
from orchestrator.state import tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.taskcard import TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import remote
from orchestrator.workflow.checkpoint import (
    ReviewState,
    dump_check,
    dump_decision,
    dump_findings,
    load_check,
    load_decision,
    load_findings,
)
from orchestrator.workflow.context import BUILDER, REVIEWER, RunContext, RunSpec
from orchestrator.workflow.context import RUN_ACTORS as RUN_ACTORS  # where callers have imported it from

#: A node's runtime: its context is a ``RunSpec`` (or, in tests and benchmarks, a ``RunContext``).
Ctx = Runtime[Any]
CHECKS = {f"check_{d.value}": d for d in Dimension}


def context_of(runtime: Ctx) -> RunContext:
    """The run's ``RunContext``: built from the plain-data ``RunSpec`` the graph was invoked with
    (once per process per spec), or the one a test or benchmark wired by hand and passed as is."""
    given = runtime.context
    if isinstance(given, RunContext):
        return given
    from orchestrator.workflow.spec import resolve

    return resolve(given)


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the workflow; ``checkpointer`` is SQLite for the CLI, None under LangGraph Server."""
    graph = StateGraph(ReviewState, context_schema=RunSpec)
    graph.add_node("builder", builder)
    graph.add_node("submit", submit)
    for name, dimension in CHECKS.items():
        graph.add_node(name, _check_node(dimension))
    graph.add_node("aggregate", aggregate)
    graph.add_node("escalate", escalate)
    graph.add_node("human_review", human_review)
    graph.add_node("merge", merge)
    graph.add_edge(START, "builder")
    graph.add_conditional_edges("builder", after_builder, ["submit", "escalate"])
    for name in CHECKS:
        graph.add_edge("submit", name)
    graph.add_edge(list(CHECKS), "aggregate")
    graph.add_conditional_edges("aggregate", after_aggregate, ["builder", "human_review", "escalate"])
    graph.add_conditional_edges("escalate", after_decision, ["builder", "merge", END])
    graph.add_conditional_edges("human_review", after_decision, ["builder", "merge", END])
    graph.add_edge("merge", END)
    return graph.compile(checkpointer=checkpointer)


# ---- nodes ----


def builder(state: ReviewState, runtime: Ctx) -> ReviewState:
    ctx, tid = context_of(runtime), state["task_id"]
    decision = load_decision(state.get("decision"))
    actor = decision.actor if decision else BUILDER
    round_ = state.get("round", 0) + 1
    ctx.go_on(f"start round {round_}")
    ensure_status(ctx, tid, Status.RUNNING, actor=actor, reason="revision round")
    if ctx.external and round_ > 1:
        # A person or another agent revises: wait until they submit the branch again.
        interrupt({"kind": "builder", "task": tid, "round": round_, "feedback": state.get("feedback") or []})
        ctx.go_on(f"review round {round_}")
    ctx.progress(f"round {round_}: builder")
    worktree = ctx.ws.worktree(tid)
    try:
        summary = ctx.builder(ctx, {**state, "round": round_})
    except (SandboxUnavailable, RunStopped):
        raise  # a set-up problem the user fixes (or opts out of), or a person's stop: not a verdict
    except git.NestedRepository as exc:
        return _blocked(round_, _removed_nested(worktree, exc))
    except AiosError as exc:
        return _blocked(round_, f"the builder failed: {exc.message}")
    if summary is not None:
        ctx.go_on(f"commit round {round_}")  # the builder may have worked for minutes
        try:
            git.commit_all(worktree, redact(f"{tid} round {round_}: {summary}"))
        except git.NestedRepository as exc:
            return _blocked(round_, _removed_nested(worktree, exc))
    head = git.head(worktree)
    if head == state.get("last_reviewed") and state.get("verdict") != "BLOCKED":
        return _blocked(round_, f"the builder changed nothing since round {round_ - 1} was reviewed")
    if head == state["base"]:
        target = tasks.target_branch(ctx.ws, ctx.card)
        return _blocked(round_, f"{git.branch_name(tid)} has no commits beyond {target}: nothing to review")
    return {"round": round_, "head": head, "verdict": None, "decision": None, "waiting_for": None}


def _removed_nested(worktree: Path, exc: git.NestedRepository) -> str:
    """Remove the `.git` entries untrusted code wrote; the reason the round is blocked (a human looks)."""
    git.remove_nested_git(worktree, exc.paths)
    return (
        f"security (critical) nested-git: the round wrote {', '.join(exc.paths[:10])}, a nested git "
        "repository whose config could run commands on the host; it was removed and nothing was committed"
    )


def _blocked(round_: int, reason: str) -> ReviewState:
    return {
        "round": round_,
        "verdict": "BLOCKED",
        "reasons": [redact(reason)],
        "decision": None,
        "report": None,
    }


def after_builder(state: ReviewState) -> Literal["submit", "escalate"]:
    return "escalate" if state.get("verdict") == "BLOCKED" else "submit"


def submit(state: ReviewState, runtime: Ctx) -> ReviewState:
    ctx = context_of(runtime)
    ensure_status(
        ctx, state["task_id"], Status.CODE_REVIEW, actor=BUILDER, reason=f"submitted {state['head'][:10]}"
    )
    ctx.progress(f"round {state['round']}: checks Q, R, C, O running")
    return {}


def _check_node(dimension: Dimension) -> Callable[[ReviewState, Ctx], ReviewState]:
    def check(state: ReviewState, runtime: Ctx) -> ReviewState:
        ctx = context_of(runtime)
        ctx.go_on(f"run check {dimension.value} of round {state['round']}")
        result = ctx.check(ctx, state, dimension)
        ctx.progress(_check_summary(dimension, result))
        return {"checks": {f"{state['round']}:{dimension.value}": dump_check(result)}}

    check.__name__ = f"check_{dimension.value}"
    return check


def aggregate(state: ReviewState, runtime: Ctx) -> ReviewState:
    ctx, round_ = context_of(runtime), state["round"]
    checks = [load_check(state["checks"][f"{round_}:{d.value}"]) for d in Dimension]
    ctx.go_on(f"conclude round {round_}")
    outcome = ctx.aggregate(ctx, state, checks)
    verdict, used = outcome["verdict"], outcome.get("usage") or {}
    tokens = used.get("input_tokens", 0) + used.get("output_tokens", 0)
    ctx.progress(f"round {round_}: {verdict} · {tokens} tokens, ${used.get('cost_usd', 0):.4f} this round")
    tid = state["task_id"]
    escalate_critical_security(ctx, tid, round_, outcome["findings"])
    if verdict == "APPROVED":
        ensure_status(ctx, tid, Status.REVIEWING, actor=REVIEWER, reason=f"review round {round_}: APPROVED")
    elif verdict == "NEEDS_REVISION" and round_ < ctx.workflow.rounds.max:
        ensure_status(
            ctx, tid, Status.RUNNING, actor=REVIEWER, reason=f"review round {round_}: NEEDS_REVISION"
        )
    return {
        "verdict": verdict,
        "reasons": outcome["reasons"],
        "findings": dump_findings(outcome["findings"]),
        "feedback": outcome["feedback"],
        "last_reviewed": state["head"],
        "usage_total": outcome.get("usage_total") or {},
        "report": outcome.get("report"),
    }


def escalate_critical_security(ctx: RunContext, tid: str, round_: int, findings: list[Finding]) -> None:
    """A critical security finding escalates as ``security`` by itself (the matrix's route: L1, L0,
    then a freeze); once per task while it is open, so a re-run node opens no second one. A round
    that finds none closes the one the review opened: the finding was fixed."""
    critical = [
        f for f in findings if f.severity is Severity.CRITICAL and is_security(f, ctx.workflow.policy)
    ]
    if not critical:
        escalations.resolve_security(
            ctx.ws, tid, source=f"review round {round_}", actor=REVIEWER, session=ctx.session_of(REVIEWER)
        )
    else:
        escalations.raise_security(
            ctx.ws,
            tid,
            refs=[f"{f.dimension.value} {f.rule or f.persona or 'finding'} {f.where}" for f in critical],
            source=f"review round {round_}",
            actor=REVIEWER,
            session=ctx.session_of(REVIEWER),
        )


def after_aggregate(state: ReviewState, runtime: Ctx) -> Literal["builder", "human_review", "escalate"]:
    if state["verdict"] == "APPROVED":
        return "human_review"
    if state["verdict"] == "NEEDS_REVISION" and state["round"] < context_of(runtime).workflow.rounds.max:
        return "builder"
    return "escalate"


def escalate(state: ReviewState, runtime: Ctx) -> ReviewState:
    ctx, tid = context_of(runtime), state["task_id"]
    why = "; ".join(state.get("reasons") or [])
    if state["verdict"] == "NEEDS_REVISION":
        why = f"{ctx.workflow.rounds.max} review rounds used up; last: {why}"
    note = escalation_note(state, rounds_used_up=state["verdict"] == "NEEDS_REVISION")
    ensure_status(ctx, tid, Status.BLOCKED, actor=REVIEWER, reason=note or f"escalated: {why}"[:500])
    decision = interrupt({"kind": "escalation", "task": tid, "round": state["round"], "reason": redact(why)})
    return decided(decision)


def escalation_note(state: ReviewState, *, rounds_used_up: bool) -> str | None:
    """The audit line of an escalated review: references to the findings and the report, no text.

    The audit trail is append-only, so a finding's words (which may quote a secret) never go
    there; None when the builder stopped (no review round: the reason is our own words).
    """
    if not state.get("report"):
        return None
    findings = load_findings(state.get("findings"))
    refs = [f"{f.dimension.value} {f.rule or f.persona or 'finding'} {f.where}" for f in findings]
    shown = ", ".join(refs[:8]) + (f" and {len(refs) - 8} more" if len(refs) > 8 else "")
    used_up = " (review rounds used up)" if rounds_used_up else ""
    return (
        f"escalated: review round {state['round']} {state['verdict']}{used_up}; "
        f"{len(state.get('reasons') or [])} reason(s), {len(findings)} finding(s)"
        + (f": {shown}" if shown else "")
        + f"; see {state['report']}"
    )


def human_review(state: ReviewState, runtime: Ctx) -> ReviewState:
    decision = interrupt(
        {
            "kind": "human_review",
            "task": state["task_id"],
            "round": state["round"],
            "verdict": state["verdict"],
        }
    )
    return decided(decision)


def after_decision(state: ReviewState) -> str:
    decision = load_decision(state.get("decision"))
    return {"approve": "merge", "reject": "builder"}.get(decision.action if decision else "", END)


def merge(state: ReviewState, runtime: Ctx) -> ReviewState:
    ctx, tid = context_of(runtime), state["task_id"]
    decision = load_decision(state.get("decision"))
    if decision is None:
        raise AiosError(f"{tid} reached the merge without a human decision")
    actor = decision.actor
    if tasks.get(ctx.ws, tid).status is not Status.DONE:  # else a crash came after the merge: finish up
        ensure_status(ctx, tid, Status.REVIEWING, actor=actor, reason="human accepted the change")
    target, message = tasks.target_branch(ctx.ws, ctx.card), merge_message(state, ctx.card, actor)
    ctx.go_on(f"merge into {target}")
    try:
        sha = remote.merge(ctx.ws, git.branch_name(tid), target, message=message)  # and pushed, if shared
    except git.GitError as exc:
        raise _merge_refused(ctx.ws, tid, exc) from None
    ensure_status(ctx, tid, Status.DONE, actor=actor, reason=f"merged into {target} as {sha[:10]}")
    ctx.progress(f"merged into {target} ({sha[:10]})")
    return {"merged": sha, "waiting_for": None}


def merge_message(state: ReviewState, card: TaskCard, approver: str) -> str:
    """The merge commit's message: the task, then git trailers naming who approved it on which review.

    Example:
        Merge TASK_DEV_0001: Rate-limit login

        Approved-by: alice
        Review-report: ops/reviews/TASK_DEV_0001/round-2.md
        Review-round: 2
    """
    trailers = [f"Approved-by: {approver}"]
    if state.get("report"):  # none when a human approved an escalation with no review round
        trailers.append(f"Review-report: {state['report']}")
    trailers.append(f"Review-round: {state.get('round', 0)}")
    return redact(f"Merge {card.id}: {card.title}\n\n" + "\n".join(trailers) + "\n")


def _merge_refused(ws: Workspace, tid: str, exc: git.GitError) -> AiosError:
    """The merge's error, with the way out: nothing was merged, so the change can go back to the builder."""
    back = f'send the change back to the builder: `aios review reject {tid} --feedback "..."`'
    state_dir = ws.rel(ws.state_dir) + "/"
    if isinstance(exc, git.MergeBlocked) and any(p.startswith(state_dir) for p in exc.paths):
        live = [p for p in exc.paths if p.startswith(state_dir)]
        return StateError(
            f"{tid}'s change writes aios's own state files ({', '.join(live[:10])}), which are live in "
            f"{exc.checkout}: merging would overwrite them",
            file=exc.checkout,
            fix=f"{back}; a task's change must leave {state_dir} alone",
        )
    exc.fix = f"{exc.fix}; or {back}"
    return exc


def decided(answer: Any) -> ReviewState:
    """The update for the human's ``answer`` (the interrupt's resume value)."""
    decision = load_decision(answer)
    if decision is None:
        raise AiosError("a human decision must be approve or reject, not None")
    if decision.feedback:
        decision = decision.model_copy(update={"feedback": redact(decision.feedback)})
    update: ReviewState = {"decision": dump_decision(decision), "waiting_for": None}
    if decision.feedback:
        update["feedback"] = [redact(f"Human reviewer ({decision.actor}): {decision.feedback}")]
    return update


def _check_summary(dimension: Dimension, result: CheckResult) -> str:
    worst = {f.severity for f in result.findings}
    errors = f", {len(result.errors)} error(s)" if result.errors else ""
    level = max(worst, key=lambda s: s.rank).value if worst else "none"
    return f"  check {dimension.value}: {len(result.findings)} finding(s), worst {level}{errors}"


# ---- task status, idempotently ----


def ensure_status(ctx: RunContext, tid: str, want: Status, *, actor: str, reason: str) -> None:
    """Move ``tid`` to ``want`` by the lifecycle's route, unless it is there already (so a re-run
    node changes nothing). The run's own agents act in their sessions; the guard refuses the move,
    under the state lock, if a person stopped the run, and the move then counts as the run's own."""
    guard = ctx.guard
    task = actions.advance(
        ctx.ws,
        tid,
        want,
        actor=actor,
        reason=reason,
        session=ctx.session_of(actor),
        check=guard.before_move if guard else None,
    )
    if guard is not None:
        guard.moved(task)
