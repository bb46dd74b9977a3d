"""What the pages show, read from the services: plain data the templates lay out.

Nothing here decides who may see or do what (``app`` asks the governance functions), and nothing
is escaped here: the templates' autoescape does that, for every value, once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import AiosError
from orchestrator.state.lifecycle import Status

if TYPE_CHECKING:
    from orchestrator.review.diff import Diff, FileDiff
    from orchestrator.review.findings import Finding
    from orchestrator.review.report import RoundReport
    from orchestrator.state.records import TaskState
    from orchestrator.state.taskcard import TaskCard
    from orchestrator.state.workspace import Workspace
    from orchestrator.workflow.status import RunStatus

#: The board's order of statuses: what waits for a person first, done last.
STATUS_ORDER = [s.value for s in (Status.REVIEWING, Status.BLOCKED, Status.INBOX, Status.CODE_REVIEW,
                                  Status.RUNNING, Status.READY, Status.DONE)]  # fmt: skip
#: What each status waiting for a person asks of them.
WAITING = {
    Status.REVIEWING.value: "decide the merge (approve or reject)",
    Status.BLOCKED.value: "blocked: decide how it goes on",
    Status.INBOX.value: "approve the TaskCard",
}


@dataclass(frozen=True)
class Health:
    """The workspace's health colour (``governance.health``) and why."""

    status: str
    reasons: list[str]


@dataclass
class Board:
    """The board: what waits for a person, every live task by status and queue, the queues."""

    waiting: list[dict[str, Any]]
    columns: list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]]
    queues: list[dict[str, Any]]
    frozen: dict[str, Any] | None
    """The freeze in force (``at``, ``by``, ``reason``), or None."""
    health: Health
    total: int


def board(ws: Workspace) -> Board:
    """The board of ``ws``'s live tasks (done tasks are left out, as ``aios task list`` does)."""
    from orchestrator.state import queues, tasks

    rows = tasks.listing(ws)
    # Each service call parses the index (seconds at 10,000 live tasks): the queues' rows carry the
    # freeze in force too (``state.freeze.current``'s), so it is not read a third time.
    limits = queues.status(ws)
    waiting = sorted(
        (r for r in rows if r["status"] in WAITING),
        key=lambda r: (STATUS_ORDER.index(str(r["status"])), r["priority"], r["id"]),
    )
    return Board(
        waiting=[{**r, "asks": WAITING[str(r["status"])]} for r in waiting],
        columns=_columns(rows),
        queues=limits,
        frozen=limits[0]["frozen"] if limits else None,
        health=health_of(ws),
        total=len(rows),
    )


def _columns(rows: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]]:
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in sorted(rows, key=lambda r: (r["priority"], r["id"])):
        grouped.setdefault(str(r["status"]), {}).setdefault(str(r["queue"]), []).append(r)
    order = [s for s in STATUS_ORDER if s in grouped]
    return [(s, sorted(grouped[s].items())) for s in order]


def health_of(ws: Workspace) -> Health:
    """``aios health``'s colour and every reason, as the command words them."""
    from datetime import UTC, datetime

    from orchestrator.governance import health
    from orchestrator.workflow.gates import unanswered_violations

    report = health.check(ws, now=datetime.now(UTC), unanswered=unanswered_violations)
    return Health(status=report.status.value, reasons=list(report.reasons))


# ---- the task page ----


@dataclass
class Row:
    """One diff line and the findings that point at it."""

    kind: str
    old: int | None
    new: int | None
    text: str
    findings: list[Finding] = field(default_factory=list)


@dataclass
class FileView:
    """One changed file: its hunks as rows, and findings on lines the diff does not show."""

    path: str
    status: str
    note: str
    hunks: list[tuple[str, list[Row]]]
    elsewhere: list[Finding] = field(default_factory=list)


@dataclass
class RoundView:
    """One round's report, each finding marked ``new`` or ``open`` (raised in the round before)."""

    report: RoundReport
    findings: list[tuple[Finding, str]]


@dataclass
class TaskPage:
    """Everything the task page shows."""

    task: TaskState
    card: TaskCard | None
    card_error: str | None
    run: RunStatus | None
    run_error: str | None
    files: list[FileView]
    unplaced: list[Finding]
    rounds: list[RoundView]
    """Latest first."""
    usage: dict[str, Any]
    audit: str

    @property
    def decidable(self) -> bool:
        """A human decision is what the run waits for (the human checkpoint or an escalation)."""
        return self.run is not None and self.run.waiting_for in ("human_review", "escalation")


def task_page(ws: Workspace, tid: str) -> TaskPage:
    """The task page of ``tid``.

    Raises:
        StateError: no such task.
    """
    from orchestrator.review.report import reports
    from orchestrator.state import tasks

    task = tasks.get(ws, tid)
    card, card_error = _card(ws, task)
    run, run_error = _run(ws, tid)
    rounds = reports(ws, tid)
    latest = rounds[-1] if rounds else None
    diff = _diff(ws, tid, card, latest)
    files, unplaced = place_findings(diff, latest.findings if latest else [])
    return TaskPage(
        task=task,
        card=card,
        card_error=card_error,
        run=run,
        run_error=run_error,
        files=files,
        unplaced=unplaced,
        rounds=_round_views(rounds),
        usage=_usage(ws, tid),
        audit=_audit(ws, tid),
    )


def _card(ws: Workspace, task: TaskState) -> tuple[TaskCard | None, str | None]:
    from orchestrator.state.taskcard import load

    try:
        return load(ws.root / task.card), None
    except AiosError as exc:  # a broken card is shown as the CLI words it; the rest still shows
        return None, exc.render()


def _run(ws: Workspace, tid: str) -> tuple[RunStatus | None, str | None]:
    from orchestrator.workflow import runs

    try:
        return runs.status(ws, tid), None
    except AiosError as exc:
        return None, exc.render()


def _diff(ws: Workspace, tid: str, card: TaskCard | None, latest: RoundReport | None) -> Diff:
    """The change the latest round reviewed (still there once merged); before one, the branch's."""
    from orchestrator.review.diff import Diff, git_diff, parse_diff
    from orchestrator.sandbox import git
    from orchestrator.state import tasks

    try:
        if latest is not None:
            return git_diff(ws.root, latest.base, latest.head)
        branch = git.branch_name(tid)
        if card is None or not git.branch_exists(ws.root, branch):
            return Diff()
        return parse_diff(git.diff(ws.root, tasks.target_branch(ws, card), branch))
    except AiosError:  # commits gone (a pruned branch): the report still shows each finding
        return Diff()


def place_findings(diff: Diff, findings: list[Finding]) -> tuple[list[FileView], list[Finding]]:
    """The diff's files with each finding at its line; findings on no changed file are returned apart."""
    files = {fd.path: _file_view(fd) for fd in diff}
    unplaced: list[Finding] = []
    for f in findings:
        fd = diff.get(f.file)
        if fd is None:
            unplaced.append(f)
            continue
        view = files[fd.path]
        row = next((r for _, rows in view.hunks for r in rows if f.line and r.new == f.line), None)
        (row.findings if row is not None else view.elsewhere).append(f)
    return list(files.values()), unplaced


def _file_view(fd: FileDiff) -> FileView:
    note = "binary file" if fd.binary else "nested repository" if fd.gitlink else ""
    if fd.old_path and fd.old_path != fd.path:
        note = f"renamed from {fd.old_path}"
    hunks = [
        (
            f"@@ -{h.old_start},{h.old_count} +{h.new_start},{h.new_count} @@ {h.section}".rstrip(),
            [Row(ln.kind, ln.old, ln.new, ln.text) for ln in h.lines],
        )
        for h in fd.hunks
    ]
    return FileView(path=fd.path, status=fd.status.value, note=note, hunks=hunks)


def _round_views(rounds: list[RoundReport]) -> list[RoundView]:
    views, before = [], set[str]()
    for r in rounds:
        views.append(RoundView(r, [(f, "open" if f.fingerprint in before else "new") for f in r.findings]))
        before = {f.fingerprint for f in r.findings}
    return views[::-1]


def _usage(ws: Workspace, tid: str) -> dict[str, Any]:
    """The task's token and cost totals over every model call (builder and reviewers)."""
    try:
        data = json.loads(ws.usage_file(tid).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    total = data.get("total") if isinstance(data, dict) else None
    return total if isinstance(total, dict) else {}


def _audit(ws: Workspace, tid: str) -> str:
    try:
        return ws.audit_file(tid).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
