"""Graph benchmark: are the four checks parallel, and what does a round cost besides the checks?

Runs the real pair-programming graph (``orchestrator.workflow.graph``) with scripted steps: a builder
that commits a one-line change (a round with no new commit escalates), a check that sleeps a fixed
delay, an aggregate that always answers NEEDS_REVISION so the graph loops until ``rounds.max``.
The task's status store and git worktree are real, in a throwaway workspace. A round's time is
the gap between two builder starts, less the builder's own commit (the scripted work, not
orchestration).

Prints, as medians over every round of every run:

* round time / one check's delay, with that delay (aim <= 1.1: the checks run in parallel);
* the orchestration overhead of a round with zero delay and SQLite checkpoints, as the CLI runs
  it (aim <= 20 ms), beside the same graph with no checkpointer, measured in the same run; and,
  to show where the rest goes, the SQLite run again with the task-status writes stubbed out.

Runs default to the shipped ``rounds.max`` (3): the task file grows by two events a round, so
very long runs would charge later rounds for a history no real task has.

    python bench/bench_graph.py [--delay 0.2] [--rounds 3] [--repeat 10] [--smoke]

``--smoke``: no delay, two rounds, one run.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from orchestrator.governance import actions
from orchestrator.review.findings import Dimension
from orchestrator.review.round import CheckResult
from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.setup import init
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import graph as graph_module
from orchestrator.workflow import runs
from orchestrator.workflow.checkpoint import ReviewState
from orchestrator.workflow.graph import RunContext, build_graph
from orchestrator.workflow.settings import WorkflowSettings

CARD = TaskCard(
    id="TASK_DEV_0000", title="Bench", queue="dev", acceptance_criteria=[Criterion(id="AC1", text="works")]
)


def started_task(root: Path) -> tuple[Workspace, TaskCard]:
    """A workspace with one started task whose branch has a commit to review."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "README.md").write_text("bench\n")
    git.commit_all(root, "base")
    ws, _ = init(root, owner="bench")
    tid = tasks.create(ws, CARD, actor="bench").id
    actions.transition(ws, tid, "approve", actor="bench")
    actions.transition(ws, tid, "start", actor="bench")
    worktree = git.ensure_worktree(root, tid, "main")
    (worktree / "feature.py").write_text("X = 1\n")
    git.commit_all(worktree, "feature")
    return ws, CARD.model_copy(update={"id": tid})


def sleeping_check(delay: float) -> Callable[[RunContext, ReviewState, Dimension], CheckResult]:
    def check(ctx: RunContext, state: ReviewState, dimension: Dimension) -> CheckResult:
        if delay:
            time.sleep(delay)
        return CheckResult(dimension=dimension)

    return check


def always_revise(ctx: RunContext, state: ReviewState, checks: list[CheckResult]) -> dict[str, Any]:
    return {"verdict": "NEEDS_REVISION", "reasons": ["bench"], "findings": [], "feedback": ["again"]}


@contextmanager
def checkpointer(kind: str, ws: Workspace) -> Iterator[Any]:
    """``sqlite`` as ``runs.open_graph`` makes it, or ``none``."""
    if kind == "none":
        yield None
        return
    conn = sqlite3.connect(ws.checkpoints_db, check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


@contextmanager
def status_writes(real: bool) -> Iterator[None]:
    """Leave ``ensure_status`` alone, or stub it out (diagnostic: the task store's share)."""
    original = graph_module.ensure_status
    if not real:
        graph_module.ensure_status = lambda *args, **kwargs: None
    try:
        yield
    finally:
        graph_module.ensure_status = original


def committing_builder(commits: list[float]) -> Callable[[RunContext, ReviewState], None]:
    """Commits a new line each round (timed into ``commits``), then lets the graph review it."""

    def build(ctx: RunContext, state: ReviewState) -> None:
        start = time.perf_counter()
        worktree = git.worktree_path(ctx.ws.root, ctx.card.id)
        # A new line every round (round 1 included: the task's own commit already holds X = 1), or
        # the round brings no new commit and escalates instead of being reviewed.
        (worktree / "feature.py").write_text(f"X = {state['round']}\nROUND_{len(commits)} = True\n")
        git.commit_all(worktree, f"round {state['round']}")
        commits.append(time.perf_counter() - start)

    return build


def round_times(kind: str, delay: float, rounds: int) -> list[float]:
    """Seconds between successive builder starts in one run of ``rounds`` rounds, less each commit."""
    with tempfile.TemporaryDirectory() as tmp:
        ws, card = started_task(Path(tmp) / "repo")
        starts: list[float] = []
        commits: list[float] = []

        def progress(message: str) -> None:
            if message.endswith(": builder"):
                starts.append(time.perf_counter())

        ctx = RunContext(
            ws=ws,
            card=card,
            workflow=WorkflowSettings(rounds={"max": rounds}),
            builder=committing_builder(commits),
            check=sleeping_check(delay),
            aggregate=always_revise,
            progress=progress,
        )
        start = {"task_id": card.id, "round": 0, "base": git.head(ws.root), "checks": {}, "feedback": []}
        with checkpointer(kind, ws) as saver:
            graph = build_graph(saver)
            # durability="sync" as runs.run; LangGraph rejects it without a checkpointer.
            durability = {"durability": "sync"} if saver is not None else {}
            with runs.run_agents(ws, card, by="bench") as ctx.sessions:  # agents act through sessions
                graph.invoke(start, {"configurable": {"thread_id": card.id}}, context=ctx, **durability)
        assert len(starts) == rounds, f"expected {rounds} rounds, saw {len(starts)}"
        return [b - a - c for a, b, c in zip(starts, starts[1:], commits, strict=False)]


def median_round(kind: str, delay: float, rounds: int, repeat: int, *, status: bool = True) -> float:
    with status_writes(status):
        samples = [t for _ in range(repeat) for t in round_times(kind, delay, rounds)]
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each check sleeps")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per run (rounds.max, 2 to 20)")
    parser.add_argument("--repeat", type=int, default=10, help="runs per measurement")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    if args.smoke:
        args.delay, args.rounds, args.repeat = 0.01, 2, 1
    n = (args.rounds - 1) * args.repeat
    print(f"One review round (4 checks): medians of {n} rounds ({args.repeat} runs of {args.rounds}).")
    print(f"{'':36}{'sqlite':>10}{'no checkpointer':>18}")
    slow = {k: median_round(k, args.delay, args.rounds, args.repeat) for k in ("sqlite", "none")}
    ratio = {k: v / args.delay for k, v in slow.items()}
    print(
        f"{f'round time, s (check sleeps {args.delay:g} s)':36}{slow['sqlite']:>10.3f}{slow['none']:>18.3f}"
    )
    print(f"{'round time / one check delay':36}{ratio['sqlite']:>10.3f}{ratio['none']:>18.3f}   aim <= 1.1")
    fast = {k: median_round(k, 0.0, args.rounds, args.repeat) * 1000 for k in ("sqlite", "none")}
    print(f"{'overhead per round (no delay), ms':36}{fast['sqlite']:>10.2f}{fast['none']:>18.2f}   aim <= 20")
    bare = median_round("sqlite", 0.0, args.rounds, args.repeat, status=False) * 1000
    print(f"{'  without task-status writes, ms':36}{bare:>10.2f}")
    print(f"{'  checkpoints alone, ms':36}{fast['sqlite'] - fast['none']:>10.2f}")


if __name__ == "__main__":
    main()
