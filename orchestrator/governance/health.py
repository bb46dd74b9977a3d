"""``aios health``: green, yellow or red, with every reason, by the operating model's rules (§9.2).

    green   every queue operational, no task blocked > 24 h, no unresolved deviation, and none below
    yellow  a queue at capacity; a task blocked 24-72 h; more than 3 pending proposals;
            an unresolved deviation; an open escalation; an unanswered violation
    red     a queue locked, or the system frozen; a task blocked > 72 h; unaudited actions: an
            event with no line on its trail, a line altered or misnumbered (``audit_chain``), a
            status changed with no event (``check.history_problems``)

The table leaves some cases open; they are decided in its spirit (red: the system cannot work, or
its record cannot be trusted; yellow: it works, and a person must look):

- **an unresolved deviation** is yellow: the table's green allows none and names it under neither
  other colour. One expired unresolved is yellow too: the governance gate already refuses the
  tasks it covers, so nothing unsafe goes ahead meanwhile.
- **an open escalation** is yellow: a person's problem on a clock. The matrix moves it up on
  silence, and its last step (a freeze, a session terminated) shows here by itself.
- **an unanswered violation** (on a live task) is yellow: the refusal worked and is on the trail,
  so it is audited; a member who may merge the task has yet to look at it.
- **a file that cannot be read** counts as the worst its check could give: a task file or the index
  red (it could hide a lock or an unaudited change), a record or the escalations file yellow.

A pure function of the workspace and ``now``: nothing is written, except that reading the index
records a pending hand edit of it first, as every command does (``Store.index``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import BaseModel

from orchestrator import _gc
from orchestrator.errors import AiosError
from orchestrator.state import audit_chain, deviations, proposals, queues, scan
from orchestrator.state import escalations as escalation_store
from orchestrator.state.deviations import DeviationState, parse_time
from orchestrator.state.escalations import EscalationState
from orchestrator.state.lifecycle import Status
from orchestrator.state.proposals import ProposalStatus
from orchestrator.state.records import Event, TaskState
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace

#: The task's violations still unanswered, numbered as on its trail (``gates.unanswered_violations``:
#: the workflow layer owns the rule, so the shell passes it in).
Unanswered: TypeAlias = Callable[[Workspace, TaskState], list[tuple[int, Event]]]

BLOCKED_YELLOW = timedelta(hours=24)
BLOCKED_RED = timedelta(hours=72)
#: More pending proposals than this is yellow.
MAX_PENDING_PROPOSALS = 3


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def exit_code(self) -> int:
        """0 green, 1 yellow, 2 red: a script gates on it."""
        return list(Colour).index(self)


class Check(StrEnum):
    """Which rule a reason comes from (stable: dashboards may group by it)."""

    FROZEN = "frozen"
    QUEUE_LOCKED = "queue_locked"
    QUEUE_FULL = "queue_full"
    BLOCKED = "blocked"
    UNAUDITED = "unaudited"
    UNREADABLE = "unreadable"
    PROPOSALS = "proposals"
    DEVIATION = "deviation"
    ESCALATION = "escalation"
    VIOLATION = "violation"


class Reason(BaseModel):
    """One thing that keeps the workspace from green."""

    colour: Colour
    check: Check
    subject: str | None = None
    """The queue, task or record it is about (None: the whole workspace)."""
    text: str
    fix: str | None = None


class HealthReport(BaseModel):
    """The colour and every reason, worst first."""

    status: Colour
    reasons: list[str]
    """Each reason's text (``details`` holds the same, with its colour, rule, subject and fix)."""
    details: list[Reason]
    checked_at: str

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@_gc.pausing
def check(ws: Workspace, *, now: datetime, unanswered: Unanswered) -> HealthReport:
    """The workspace's health at ``now``; ``unanswered`` finds a task's open violations."""
    # One scan (cached: unchanged files and trails are not read again) gives every task's status,
    # its history and its trail's verdict; only live tasks are read whole (blocked, violations).
    scanned = scan.scan(ws, trails=True, pending=open_store(ws).pending_recovery())
    found = [_unreadable(e, Colour.RED, subject=_task_of(e)) for e in scanned.errors]
    live = _live_tasks(ws, {t.id for t in scanned.tasks if t.status is not Status.DONE}, found)
    found += _queues(ws)
    found += _blocked(live, now)
    found += _unaudited(ws, scanned)
    found += _proposals(ws)
    found += _deviations(ws, now)
    found += _escalations(ws)
    found += _violations(ws, live, unanswered)
    found.sort(key=lambda r: r.colour is not Colour.RED)  # stable: red first, each in check order
    status = found[0].colour if found else Colour.GREEN
    return HealthReport(status=status, reasons=[r.text for r in found], details=found, checked_at=_stamp(now))


def _task_of(error: AiosError) -> str | None:
    return Path(error.file).name.removesuffix(".yaml") if error.file else None


def _live_tasks(ws: Workspace, ids: set[str], found: list[Reason]) -> list[TaskState]:
    """The tasks of ``ids``; one that cannot be read (changed since the scan) is a red reason."""
    try:
        return list(scan.tasks(ws, ids))
    except AiosError:
        pass  # a file changed since the scan: read them one by one, so that each broken one is named
    store, task_list = open_store(ws), []
    for tid in sorted(ids):
        try:
            task_list.append(store.read_task(tid))
        except AiosError as exc:
            found.append(_unreadable(exc, Colour.RED, subject=tid))
    return task_list


def _unreadable(exc: AiosError, colour: Colour, *, subject: str | None = None) -> Reason:
    where = f"{exc.file}: " if exc.file else ""
    field = f"{exc.field}: " if exc.field else ""
    return Reason(
        colour=colour,
        check=Check.UNREADABLE,
        subject=subject,
        text=f"cannot be read, so health cannot tell what it holds: {where}{field}{exc.message}",
        fix=exc.fix,
    )


def _queues(ws: Workspace) -> list[Reason]:
    try:
        rows = queues.status(ws)
    except AiosError as exc:
        return [_unreadable(exc, Colour.RED)]
    found: list[Reason] = []
    frozen = rows[0]["frozen"] if rows else None
    if isinstance(frozen, dict):
        why = f" ({frozen['reason']})" if frozen.get("reason") else ""
        found.append(Reason(
            colour=Colour.RED, check=Check.FROZEN,
            text=f"the system is frozen since {frozen['at']} by {frozen['by']}{why}: no queue starts a task",
            fix=f"the project owner lifts it with `aios unfreeze` (see {frozen['record']})",
        ))  # fmt: skip
    by_freeze = set(frozen.get("locked", [])) if isinstance(frozen, dict) else set()
    for row in rows:
        found += _queue(row, locked_by_freeze=row["queue"] in by_freeze)
    return found


def _queue(row: dict[str, Any], *, locked_by_freeze: bool) -> list[Reason]:
    name, found = str(row["queue"]), []
    if row["locked"] and not locked_by_freeze:  # the freeze's own locks are its one reason
        by = f" by {row['locked_by']}" if row["locked_by"] else " by a hand edit of state/tasks.yaml"
        why = f" ({row['reason']})" if row["reason"] else ""
        found.append(Reason(
            colour=Colour.RED, check=Check.QUEUE_LOCKED, subject=name,
            text=f"queue {name} is locked ({row['lock']}{by}){why}: it starts nothing",
            fix=f"once the cause is dealt with, an L1 member or the owner runs `aios queue unlock {name}`",
        ))  # fmt: skip
    running, limit = list(row["running"]), int(row["max_concurrent"])
    if len(running) >= limit:
        found.append(Reason(
            colour=Colour.YELLOW, check=Check.QUEUE_FULL, subject=name,
            text=f"queue {name} is at capacity: {len(running)} of {limit} running ({', '.join(running)})",
            fix="finish, submit or block one of them; or raise its max_concurrent in state/project.yaml",
        ))  # fmt: skip
    return found


def blocked_since(task: TaskState) -> Event | None:
    """The event that blocked ``task`` (its last move into ``blocked``); None if it is not blocked."""
    if task.status is not Status.BLOCKED:
        return None
    return next((e for e in reversed(task.events) if e.to is Status.BLOCKED and e.from_ is not e.to), None)


def hours(span: timedelta) -> str:
    """``30 h`` below three days, else ``4.5 d``."""
    if span < timedelta(days=3):
        return f"{span.total_seconds() / 3600:.0f} h"
    return f"{span.total_seconds() / 86400:.1f} d"


def _blocked(task_list: Iterable[TaskState], now: datetime) -> list[Reason]:
    found = []
    for task in task_list:
        event = blocked_since(task)
        if event is None:
            continue
        span = now - parse_time(event.at)
        if span <= BLOCKED_YELLOW:
            continue
        colour = Colour.RED if span > BLOCKED_RED else Colour.YELLOW
        limit = "> 72 h" if colour is Colour.RED else "24-72 h"
        found.append(Reason(
            colour=colour, check=Check.BLOCKED, subject=task.id,
            text=f"{task.id} blocked {hours(span)} ({limit}), since {event.at} by {event.actor}: "
            f"{event.reason}",
            fix=f"the operator deals with the cause or escalates it (`aios escalate {task.id} --type blocked "
            f"--reason ...`), then `aios task unblock {task.id}`",
        ))  # fmt: skip
    return found


def _unaudited(ws: Workspace, found: scan.Scan) -> list[Reason]:
    """Trails that no longer match their task's events, and statuses changed with no event."""
    errors: list[tuple[str, AiosError]] = [
        (t.task, e) for t in found.trails if not t.ok for e in audit_chain.problems(ws, t)
    ]
    errors += [(task.id, e) for task in found.tasks for e in task.history]
    return [
        Reason(
            colour=Colour.RED,
            check=Check.UNAUDITED,
            subject=tid,
            text=f"unaudited or altered: {e.file}: {f'{e.field}: ' if e.field else ''}{e.message}",
            fix=e.fix,
        )
        for tid, e in errors
    ]


def _proposals(ws: Workspace) -> list[Reason]:
    try:
        pending = [p for p in proposals.all_proposals(ws) if p.status is ProposalStatus.PENDING]
    except AiosError as exc:
        return [_unreadable(exc, Colour.YELLOW)]
    if len(pending) <= MAX_PENDING_PROPOSALS:
        return []
    names = ", ".join(p.id for p in pending)
    return [Reason(
        colour=Colour.YELLOW, check=Check.PROPOSALS,
        text=f"{len(pending)} proposals pending (more than {MAX_PENDING_PROPOSALS}): {names}",
        fix="the weekly review decides them: `aios proposal accept|reject PROP-NNNN --reason ...`",
    )]  # fmt: skip


def _deviations(ws: Workspace, now: datetime) -> list[Reason]:
    try:
        records = deviations.all_deviations(ws)
    except AiosError as exc:
        return [_unreadable(exc, Colour.YELLOW)]
    found = []
    for d in records:
        state = d.state(now)
        if state is DeviationState.RESOLVED:
            continue
        scope = ", ".join([*d.tasks, *d.paths])
        until = f"expired at {d.expires_at}" if state is DeviationState.EXPIRED else f"until {d.expires_at}"
        found.append(Reason(
            colour=Colour.YELLOW, check=Check.DEVIATION, subject=d.id,
            text=f"deviation {d.id} is unresolved ({state.value}, {until}), covering {scope}: {d.reason}",
            fix=f'the weekly review audits it, then `aios deviation resolve {d.id} --reason "..."`',
        ))  # fmt: skip
    return found


def _escalations(ws: Workspace) -> list[Reason]:
    try:
        held = escalation_store.load(ws).escalations
    except AiosError as exc:
        return [_unreadable(exc, Colour.YELLOW)]
    return [
        Reason(
            colour=Colour.YELLOW,
            check=Check.ESCALATION,
            subject=e.id,
            text=f"escalation {e.id} ({e.type.value}) on {e.task_id} is open"
            + (f", due {e.due_at}" if e.due_at else "")
            + f": {e.reason}",
            fix=f'a member at its level answers: `aios escalation answer {e.id} --note "..."`',
        )  # fmt: skip
        for e in held
        if e.state is EscalationState.OPEN
    ]


def _violations(ws: Workspace, task_list: Iterable[TaskState], unanswered: Unanswered) -> list[Reason]:
    found = []
    for task in task_list:
        if task.status is Status.DONE:
            continue  # approving the merge answered them
        for number, event in unanswered(ws, task):
            found.append(Reason(
                colour=Colour.YELLOW, check=Check.VIOLATION, subject=task.id,
                text=f"{task.id}: violation #{number} by {event.actor} is unanswered: {event.reason}",
                fix=f"a member who may merge {task.id} reviews it and answers on the trail, e.g. "
                f'`aios decision new --task {task.id} --title "..."`',
            ))  # fmt: skip
    return found


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")
