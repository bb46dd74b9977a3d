"""The operating model's routines: the morning standup (§2.1) and the weekly checklist (§3.2).

``standup``: what happened since (default 24 h ago) from the audit trails and the governance log,
the inbox to triage, the running tasks, and what waits for a human: a change at the human_review
checkpoint (a task in ``reviewing``), an open escalation, a blocked task, an agent waiting for
approval, a pending proposal.

``weekly``: the checklist, each item *checked* (nothing to do) or *open* (with what to do):

    governance     new decision-log entries; pending proposals; unresolved deviations
    system health  orphaned tasks (holding a queue slot > 7 days); agent registrations (pending,
                   test or stale agents); stale sessions (live for > 7 days, or every task in their
                   scope done); spec and state consistency (``state check``, the spec gate)

Only the trails written since the window began are opened (a trail is append-only, so one not
modified since then holds no newer line); live tasks come from the index, and only those whose
times are shown are read in full.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, Field

from orchestrator import _gc
from orchestrator.errors import AiosError
from orchestrator.governance import agents as agent_service
from orchestrator.governance import escalations as escalation_service
from orchestrator.governance.health import blocked_since, hours
from orchestrator.state import agents, decisions, deviations, proposals, sessions, tasks
from orchestrator.state.agents import AgentState
from orchestrator.state.check import check_report
from orchestrator.state.deviations import DeviationState, parse_time
from orchestrator.state.lifecycle import HOLDS_SLOT, Status
from orchestrator.state.proposals import ProposalStatus
from orchestrator.state.records import TaskState
from orchestrator.state.stores import open_store

if TYPE_CHECKING:
    from orchestrator.state.stores import StateStore
from orchestrator.state.workspace import Workspace

#: The spec gate on one task: its problems (none: card, state and branch agree). The workflow
#: layer owns the gate, so the shell passes it in.
SpecCheck: TypeAlias = Callable[[Workspace, TaskState], list[str]]

ORPHANED_AFTER = timedelta(days=7)
STALE_SESSION_AFTER = timedelta(days=7)
WEEK = timedelta(days=7)


# ---- the standup ----


class Activity(BaseModel):
    """One task's events since the standup's start, read from its audit trail."""

    task: str
    events: int
    moves: list[str]
    """The statuses it moved to, in order (notes left out)."""
    actors: list[str]
    violations: int
    last_at: str


class TaskRow(BaseModel):
    id: str
    status: str
    queue: str
    priority: int
    title: str
    since: str | None = None
    """When it entered its status (shown for running and waiting tasks)."""


class Waiting(BaseModel):
    """Something only a person can move on."""

    kind: str
    """``human_review``, ``escalation``, ``blocked``, ``agent`` or ``proposal``."""
    subject: str
    text: str
    since: str | None = None
    fix: str


class Standup(BaseModel):
    since: str
    until: str
    events: int
    activity: list[Activity]
    governance: list[str]
    """Governance log lines since the start (freezes, locks, members, refusals on no task)."""
    inbox: list[TaskRow]
    running: list[TaskRow]
    waiting: list[Waiting]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@_gc.pausing
def standup(ws: Workspace, *, since: datetime, now: datetime) -> Standup:
    """The morning standup: activity from ``since`` to ``now``, the inbox, running and waiting work."""
    activity = _activity(ws, since)
    live = tasks.listing(ws)
    store = open_store(ws)
    inbox = sorted(
        (_row(r) for r in live if r["status"] == Status.INBOX.value), key=lambda t: (t.priority, t.id)
    )
    running = [_row(r, store) for r in live if r["status"] in {s.value for s in HOLDS_SLOT}]
    return Standup(
        since=_stamp(since),
        until=_stamp(now),
        events=sum(a.events for a in activity),
        activity=activity,
        governance=_governance_lines(ws, since),
        inbox=inbox,
        running=running,
        waiting=_waiting(ws, live, store),
    )


def _activity(ws: Workspace, since: datetime) -> list[Activity]:
    found = []
    for path in _trails_since(ws, since):
        entry = _trail_activity(path, since)
        if entry is not None:
            found.append(entry)
    return sorted(found, key=lambda a: (a.last_at, a.task), reverse=True)


def _trails_since(ws: Workspace, since: datetime) -> list[Path]:
    """Task trails modified at or after ``since`` (append-only: an older one has no newer line)."""
    cutoff = since.timestamp()
    found = []
    for folder in (ws.audit_dir, ws.archive_dir):
        try:
            entries = os.scandir(folder)
        except FileNotFoundError:
            continue
        with entries:
            found += [
                Path(e.path)
                for e in entries
                if e.name.startswith("TASK_") and e.name.endswith(".md") and e.stat().st_mtime >= cutoff
            ]
    return found


def _trail_activity(path: Path, since: datetime) -> Activity | None:
    """The trail's event lines at or after ``since`` (``- #N [link] · time · move · by actor (kind) ...``)."""
    count = violations = 0
    moves: list[str] = []
    actors: list[str] = []
    last = ""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(" · ", 4) if line.startswith("- #") else []
            if len(parts) < 4 or not parts[3].startswith("by ") or not _after(parts[1], since):
                continue
            count, last = count + 1, parts[1]
            move, actor = parts[2], parts[3][3:].rsplit(" (", 1)[0]
            violations += move.endswith("[violation]")
            if " → " in move:
                moves.append(move.split(" → ", 1)[1].split(" [", 1)[0])
            if actor not in actors:
                actors.append(actor)
    if not count:
        return None
    return Activity(
        task=path.stem, events=count, moves=moves, actors=actors, violations=violations, last_at=last
    )


def _after(text: str, since: datetime) -> bool:
    try:
        return parse_time(text) >= since
    except ValueError:
        return False


def _governance_lines(ws: Workspace, since: datetime) -> list[str]:
    """The governance log's lines (``- <time> · <text>``) at or after ``since``, without the dash."""
    try:
        text = ws.governance_log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [
        line[2:]
        for line in text.splitlines()
        if line.startswith("- ") and _after(line[2:].split(" · ", 1)[0], since)
    ]


def _row(row: dict[str, object], store: StateStore | None = None) -> TaskRow:
    task = TaskRow(
        id=str(row["id"]),
        status=str(row["status"]),
        queue=str(row["queue"]),
        priority=int(row["priority"]),  # type: ignore[call-overload]
        title=str(row["title"]),
    )
    if store is not None:
        task.since = entered_at(store.read_task(task.id))
    return task


def entered_at(task: TaskState, statuses: frozenset[Status] | None = None) -> str:
    """When ``task`` entered its current stretch of ``statuses`` (default: its status); notes and
    moves between those statuses (``running`` ↔ ``code_review``) continue the stretch."""
    within = statuses or frozenset({task.status})
    first = task.updated_at  # a task file edited down to no events still says when it changed
    for event in reversed(task.events):
        if event.to not in within:
            break
        first = event.at
    return first


def _waiting(ws: Workspace, live: list[dict[str, object]], store: StateStore) -> list[Waiting]:
    waiting = [_human_review(store.read_task(str(r["id"]))) for r in live if r["status"] == "reviewing"]
    waiting += _open_escalations(ws)
    for r in live:
        if r["status"] == Status.BLOCKED.value:
            waiting.append(_blocked(store.read_task(str(r["id"]))))
    waiting += [
        Waiting(kind="agent", subject=a.id, text=f"{a.name} asks to join as an agent",
                since=a.registered_at, fix=f"`aios agent approve {a.id}` or `aios agent revoke {a.id}`")
        for a in agents.load(ws).agents
        if a.state is AgentState.PENDING
    ]  # fmt: skip
    waiting += [
        Waiting(kind="proposal", subject=p.id, text=f"proposal pending: {p.title}", since=p.at,
                fix=f"`aios proposal accept|reject {p.id} --reason ...`")
        for p in proposals.all_proposals(ws)
        if p.status is ProposalStatus.PENDING
    ]  # fmt: skip
    return waiting


def _human_review(task: TaskState) -> Waiting:
    return Waiting(
        kind="human_review",
        subject=task.id,
        text=f"passed review, waits at the human_review checkpoint: {task.title}",
        since=entered_at(task),
        fix=f"`aios review approve {task.id}` or `aios review reject {task.id} --feedback ...`",
    )


def _open_escalations(ws: Workspace) -> list[Waiting]:
    return [
        Waiting(
            kind="escalation",
            subject=r.escalation.id,
            text=f"{r.escalation.type.value} on {r.escalation.task_id}: {r.escalation.reason}; "
            f"{escalation_service.describe(r)}",
            since=r.escalation.raised_at,
            fix=f'`aios escalation answer {r.escalation.id} --note "..."`',
        )
        for r in escalation_service.listing(ws, open_only=True)
    ]


def _blocked(task: TaskState) -> Waiting:
    event = blocked_since(task)
    why = f" by {event.actor}: {event.reason}" if event else ""
    return Waiting(
        kind="blocked",
        subject=task.id,
        text=f"blocked{why}",
        since=event.at if event else None,
        fix=f"deal with the cause, then `aios task unblock {task.id}` (or escalate it)",
    )


# ---- the weekly checklist ----


class Item(BaseModel):
    """One line of the weekly checklist."""

    section: str
    """``governance`` or ``system_health``, as the operating model groups them."""
    key: str
    title: str
    checked: bool
    """True: nothing to do; False: open, ``todo`` says what to do."""
    summary: str
    details: list[str] = Field(default_factory=list)
    """One line per record, task, agent or problem behind the summary."""
    subjects: list[str] = Field(default_factory=list)
    """Their ids (records, tasks, agents, sessions)."""
    todo: str | None = None


class Weekly(BaseModel):
    since: str
    until: str
    items: list[Item]
    open: int

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def weekly(ws: Workspace, *, now: datetime, spec_check: SpecCheck) -> Weekly:
    """The weekly checklist at ``now`` (new records counted over the 7 days before it)."""
    since = now - WEEK
    live = tasks.listing(ws)
    items = [
        _decisions(ws, since),
        _proposals(ws),
        _deviations(ws, now),
        _orphaned(ws, live, now),
        _agents(ws, now),
        _sessions(ws, live, now),
        _consistency(ws, live, spec_check),
    ]
    return Weekly(since=_stamp(since), until=_stamp(now), items=items, open=sum(not i.checked for i in items))


def _item(
    section: str, key: str, title: str, make: Callable[[], tuple[str, list[str], list[str], str]]
) -> Item:
    """The item ``make`` describes (summary, details, subjects, what to do; no details: checked), or
    an open item naming the file that could not be read."""
    try:
        summary, details, subjects, todo = make()
    except AiosError as exc:
        return Item(section=section, key=key, title=title, checked=False,
                    summary=f"cannot be read: {exc.render().splitlines()[0]}", todo=exc.fix)  # fmt: skip
    return Item(section=section, key=key, title=title, checked=not details, summary=summary,
                details=details, subjects=subjects, todo=todo if details else None)  # fmt: skip


def _decisions(ws: Workspace, since: datetime) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        new = [d for d in decisions.all_decisions(ws) if _after(d.at, since)]
        return (f"{len(new)} new since {_stamp(since)[:10]}", [f"{d.id} {d.title}" for d in new],
                [d.id for d in new], "read each: `aios decision show DEC-NNNN`")  # fmt: skip

    return _item("governance", "decisions", "Review all new decision-log entries", make)


def _proposals(ws: Workspace) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        pending = [p for p in proposals.all_proposals(ws) if p.status is ProposalStatus.PENDING]
        details = [f"{p.id} {p.title} (since {p.at[:10]})" for p in pending]
        todo = "decide each: `aios proposal accept|reject PROP-NNNN --reason ...`"
        return f"{len(pending)} pending", details, [p.id for p in pending], todo

    return _item("governance", "proposals", "Process pending proposals", make)


def _deviations(ws: Workspace, now: datetime) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        records = deviations.all_deviations(ws)
        states = {d.id: d.state(now) for d in records}
        unresolved = [d for d in records if states[d.id] is not DeviationState.RESOLVED]
        expired = sum(states[d.id] is DeviationState.EXPIRED for d in unresolved)
        new = sum(_after(d.at, now - WEEK) for d in records)
        details = [
            f"{d.id} {states[d.id].value} (expires {d.expires_at}), covering "
            f"{', '.join([*d.tasks, *d.paths])}: {d.reason}"
            for d in unresolved
        ]
        summary = f"{len(unresolved) - expired} open, {expired} expired unresolved, {new} declared this week"
        return (summary, details, [d.id for d in unresolved],
                'audit each, then `aios deviation resolve DEV-NNNN --reason "..."`')  # fmt: skip

    return _item("governance", "deviations", "Audit deviation declarations", make)


def _orphaned(ws: Workspace, live: list[dict[str, object]], now: datetime) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        store, details, ids = open_store(ws), [], []
        for row in live:
            if row["status"] not in {s.value for s in HOLDS_SLOT}:
                continue
            task = store.read_task(str(row["id"]))
            held = now - parse_time(entered_at(task, HOLDS_SLOT))
            if held > ORPHANED_AFTER:
                ids.append(task.id)
                details.append(
                    f"{task.id} {task.status.value} for {hours(held)}, last change {task.updated_at}"
                )
        todo = "ask who works on each; finish it, or `aios task block ID --reason ...` to free the slot"
        return f"{len(ids)} holding a queue slot for more than 7 days", details, ids, todo

    return _item("system_health", "orphaned_tasks", "Check for orphaned tasks (running > 7 days)", make)


def _agents(ws: Workspace, now: datetime) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        pending = [a.id for a in agents.load(ws).agents if a.state is AgentState.PENDING]
        prune = agent_service.prunable(ws, at=now)
        details = [f"{a} asks to join (pending)" for a in pending] + [
            f"{a}: {why}" for a, why in prune.items()
        ]
        todo = "; ".join(
            [
                *(["`aios agent approve ID` or `aios agent revoke ID` the pending"] if pending else []),
                *(["`aios agent prune` revokes the test and stale ones"] if prune else []),
            ]
        )
        return f"{len(pending)} pending, {len(prune)} test or stale", details, [*pending, *prune], todo

    return _item("system_health", "agents", "Review agent registration in state/agents.yaml", make)


def _sessions(ws: Workspace, live: list[dict[str, object]], now: datetime) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        live_ids = {str(r["id"]) for r in live}
        details, ids = [], []
        for s in sessions.load(ws).sessions:
            if s.state is not sessions.SessionState.ACTIVE or s.expired(now):
                continue
            if now - sessions.parse_time(s.created_at) > STALE_SESSION_AFTER:
                details.append(f"{s.id} of {s.actor}: live since {s.created_at}")
            elif s.task_scope and not live_ids.intersection(s.task_scope):
                details.append(f"{s.id} of {s.actor}: every task in its scope is done")
            else:
                continue
            ids.append(s.id)
        summary = f"{len(ids)} stale (live for more than 7 days, or every task in their scope done)"
        return summary, details, ids, "`aios session terminate SES-...` each"

    return _item("system_health", "sessions", "End stale agent sessions", make)


def _consistency(ws: Workspace, live: list[dict[str, object]], spec_check: SpecCheck) -> Item:
    def make() -> tuple[str, list[str], list[str], str]:
        details = [p.render().split("\n", 1)[0] for p in check_report(ws).problems]
        store, ids = open_store(ws), []
        for row in live:
            found = spec_check(ws, store.read_task(str(row["id"])))
            details += [f"{row['id']}: spec gate: {why}" for why in found]
            ids += [str(row["id"])] if found else []
        summary = f"state check and spec gate on {len(live)} live task(s): {len(details)} problem(s)"
        return summary, details, ids, "`aios state check` and `aios gate check --gate spec` give each its fix"

    return _item("system_health", "consistency", "Validate spec and state consistency", make)


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")
