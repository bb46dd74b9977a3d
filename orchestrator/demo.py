"""The offline demo scenario: a TaskCard goes from inbox to human review under governance.

A generator of lines to show, so the CLI prints and tests read the same story.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from orchestrator import queues, tasks
from orchestrator.errors import AiosError
from orchestrator.taskcard import Criterion, TaskCard
from orchestrator.workspace import init

HUMAN, BUILDER = "demo-lead", "agent:builder-1"


def run(repo: Path) -> Iterator[str]:
    """Play the scenario in the git repository ``repo``; yields what happens, step by step."""
    ws, _ = init(repo, owner=HUMAN)
    yield f"$ aios init            → workspace at {ws.root}"
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Rate-limit the login endpoint",
        queue="dev",
        priority=2,
        acceptance_criteria=[
            Criterion(id="AC1", text="Six failed logins within a minute get HTTP 429", check="pytest -q"),
            Criterion(id="AC2", text="The limit is configurable"),
        ],
        personas=["security_expert", "testing_expert"],
        body="Brute-force protection for /login.\n",
    )
    tid = tasks.create(ws, card, actor=HUMAN).id
    yield f"$ aios task new        → {tid} written to tasks/inbox/{tid}.md (inbox)"
    yield from _attempt(
        lambda: tasks.transition(ws, tid, "approve", actor=BUILDER), "an agent tries to approve"
    )
    tasks.transition(ws, tid, "approve", actor=HUMAN)
    yield f"$ aios task approve    → {HUMAN} (human) approves the start: inbox → ready"
    queues.set_lock(ws, ["dev"], locked=True, actor=HUMAN, reason="demo: emergency freeze")
    yield "$ aios queue lock dev  → SYSTEM_LOCK"
    yield from _attempt(
        lambda: tasks.transition(ws, tid, "start", actor=BUILDER), "the builder tries to start"
    )
    queues.set_lock(ws, ["dev"], locked=False, actor=HUMAN)
    yield "$ aios queue unlock dev"
    tasks.transition(ws, tid, "start", actor=BUILDER)
    yield f"$ aios task start      → {BUILDER} takes a dev slot: ready → running"
    tasks.transition(ws, tid, "submit", actor=BUILDER, reason="implementation committed on task branch")
    yield "  builder submits      → running → code_review"
    tasks.transition(ws, tid, "finish", actor="agent:reviewer-1", reason="review verdict APPROVED")
    yield "  reviewer approves    → code_review → reviewing (waits for a human)"
    yield from _attempt(
        lambda: tasks.transition(ws, tid, "merge", actor="agent:reviewer-1"),
        "the reviewer agent tries to merge",
    )
    tasks.transition(ws, tid, "merge", actor=HUMAN, reason="human approved the merge")
    yield f"  {HUMAN} approves the merge → reviewing → done"
    yield ""
    yield f"$ cat ops/audit/{tid}.md"
    yield (ws.audit_dir / f"{tid}.md").read_text(encoding="utf-8").rstrip()


def _attempt(action, what: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    try:
        action()
    except AiosError as exc:
        yield f"  {what}: refused: {exc.message}"
    else:
        raise AssertionError(f"{what} should have been refused")
