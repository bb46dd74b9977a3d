"""Problems one task file shows on its own: events that are not lifecycle moves, forged actors.

Both come from hand edits of the task file: the audit trail in ``ops/audit/`` holds what really
happened. ``aios state check`` reports them (through the scan cache, ``state.scan``) and the merge
gate checks them on the task it merges.
"""

from __future__ import annotations

from orchestrator.errors import AiosError, StateError
from orchestrator.state.audit import check_actor
from orchestrator.state.lifecycle import ACTIONS, ACTIVE, Status
from orchestrator.state.records import Event, TaskState
from orchestrator.state.workspace import Workspace


def history_problems(ws: Workspace, task: TaskState) -> list[AiosError]:
    """Events that do not chain into lifecycle moves, and a status that is not where they end.

    Both come from hand edits: the audit trail in ``ops/audit/`` holds what really happened.
    """
    problems: list[AiosError] = []
    before: Status | None = None
    blocked_from: Status | None = None
    for i, event in enumerate(task.events):
        if (why := _bad_move(before, event, blocked_from)) is not None:
            rel, trail = _where(ws, task)
            problems.append(
                StateError(
                    why,
                    file=rel,
                    field=f"events[{i}]",
                    fix=f"a hand edit skipped lifecycle steps: restore the file from git, compare it with "
                    f"{trail}, and make each move with `aios task ...` or `aios review ...`",
                )
            )
        blocked_from = before if event.to is Status.BLOCKED and before is not Status.BLOCKED else blocked_from
        before = event.to
    if before is not None and task.status is not before:
        rel, trail = _where(ws, task)
        skipped = " (so its review and merge were skipped)" if task.status is Status.DONE else ""
        problems.append(
            StateError(
                f"status is {task.status.value}, but its last event left it {before.value}: the status "
                f"was changed by hand, with no event on the audit trail{skipped}",
                file=rel,
                field="status",
                fix=f"set status back to {before.value}, then move the task with `aios task ...` or "
                f"`aios review ...`, which record the move in {trail}",
            )
        )
    return problems


def _where(ws: Workspace, task: TaskState) -> tuple[str, str]:
    """The task file and its trail, as problems name them (only then: ``health`` checks every task)."""
    return ws.rel(ws.task_file(task.id)), ws.rel(ws.audit_file(task.id))


def _bad_move(before: Status | None, event: Event, blocked_from: Status | None) -> str | None:
    """Why ``event`` is not a lifecycle move from ``before`` (None when it is one)."""
    if before is None:
        ok = event.from_ is None and event.to is Status.INBOX
        return None if ok else "the first event must create the task (no `from`, to inbox)"
    if event.from_ is not before:
        shown = event.from_.value if event.from_ else "nothing"
        return (
            f"event seq {event.seq} moves from {shown}, but the event before it left the task {before.value}"
        )
    if event.to is before:
        return None  # a note: no move
    if _is_move(before, event.to, blocked_from):
        return None
    return f"event seq {event.seq} moves {before.value} → {event.to.value}, which is not a lifecycle move"


def _is_move(before: Status, after: Status, blocked_from: Status | None) -> bool:
    if before is Status.BLOCKED:
        return after is (blocked_from or after) and after in ACTIVE
    if after is Status.BLOCKED:
        return before in ACTIVE
    return any(moves.get(before) is after for moves in ACTIONS.values())


def actor_problems(ws: Workspace, task: TaskState) -> list[AiosError]:
    """Events recorded (before names were checked) by an actor that could forge audit lines."""
    problems: list[AiosError] = []
    for number, event in enumerate(task.events, 1):
        try:
            check_actor(event.actor)
        except AiosError as exc:
            problems.append(
                StateError(
                    exc.message,
                    file=ws.rel(ws.task_file(task.id)),
                    field=f"events[{number - 1}].actor",
                    fix=f"compare {ws.rel(ws.audit_file(task.id))} with the task file: a line after event "
                    f"#{number} there may be forged",
                )
            )
    return problems
