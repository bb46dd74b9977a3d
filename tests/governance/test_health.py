"""``aios health``: workspaces in each state, events time-travelled through the state layer, each
colour and every reason asserted; the exit code follows the colour."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from helpers import new_task, ready_task

from orchestrator.governance import actions
from orchestrator.governance import escalations as escalation_service
from orchestrator.governance.health import Check, Colour, HealthReport, check
from orchestrator.state import deviations, proposals
from orchestrator.state import tasks as task_store
from orchestrator.state.escalations import EscalationType
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.gates import unanswered_violations

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
STAMP = "2026-11-02T08:00:00.000Z"


def _at(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Sets the time the state layer stamps on the events it records from now on."""

    def set_time(when: datetime) -> None:
        monkeypatch.setattr("orchestrator.state.store.now", lambda: _at(when))

    set_time(T0)
    return set_time


def health(ws: Workspace, after: timedelta = timedelta(hours=1)) -> HealthReport:
    return check(ws, now=T0 + after, unanswered=unanswered_violations)


def _blocked_task(ws: Workspace, reason: str = "waiting on the API keys") -> str:
    tid = ready_task(ws)
    actions.transition(ws, tid, "block", actor="alice", reason=reason)
    return tid


def test_a_quiet_workspace_is_green(ws: Workspace, clock) -> None:
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    report = health(ws)
    assert (report.status, report.reasons, report.details) == (Colour.GREEN, [], [])
    assert report.checked_at == "2026-11-02T09:00:00Z"


def test_a_task_blocked_under_24_hours_is_still_green(ws: Workspace, clock) -> None:
    _blocked_task(ws)
    assert health(ws, timedelta(hours=23)).status is Colour.GREEN


def test_a_task_blocked_24_to_72_hours_is_yellow(ws: Workspace, clock) -> None:
    tid = _blocked_task(ws)
    report = health(ws, timedelta(hours=30))
    assert report.status is Colour.YELLOW
    assert report.reasons == [
        f"{tid} blocked 30 h (24-72 h), since {STAMP} by alice: waiting on the API keys"
    ]
    assert (report.details[0].check, report.details[0].subject) == (Check.BLOCKED, tid)
    assert health(ws, timedelta(hours=72)).status is Colour.YELLOW  # 72 h is the last yellow hour


def test_a_task_blocked_over_72_hours_is_red(ws: Workspace, clock) -> None:
    tid = _blocked_task(ws)
    report = health(ws, timedelta(hours=80))
    assert report.status is Colour.RED
    assert report.reasons == [
        f"{tid} blocked 3.3 d (> 72 h), since {STAMP} by alice: waiting on the API keys"
    ]
    assert f"`aios task unblock {tid}`" in (report.details[0].fix or "")


def test_blocked_time_counts_from_the_last_block(ws: Workspace, clock) -> None:
    tid = _blocked_task(ws)
    clock(T0 + timedelta(hours=50))
    actions.transition(ws, tid, "unblock", actor="alice")
    actions.transition(ws, tid, "block", actor="alice", reason="again")
    assert health(ws, timedelta(hours=70)).status is Colour.GREEN  # 20 h since the second block


def test_a_queue_at_capacity_is_yellow(ws: Workspace, clock) -> None:
    running = [ready_task(ws) for _ in range(3)]
    for tid in running:
        actions.transition(ws, tid, "start", actor="alice")
    report = health(ws)
    assert report.status is Colour.YELLOW
    assert report.reasons == [f"queue dev is at capacity: 3 of 3 running ({', '.join(running)})"]
    assert report.details[0].subject == "dev"


def test_a_locked_queue_is_red(ws: Workspace, clock) -> None:
    actions.set_lock(ws, ["data"], locked=True, actor="alice", reason="incident 7")
    report = health(ws)
    assert report.status is Colour.RED
    assert report.reasons == ["queue data is locked (SYSTEM_LOCK by alice) (incident 7): it starts nothing"]
    assert report.details[0].fix == (
        "once the cause is dealt with, an L1 member or the owner runs `aios queue unlock data`"
    )


def test_a_queue_locked_by_hand_is_red(ws: Workspace, clock) -> None:
    index = ws.index_file.read_text()
    ws.index_file.write_text(index.replace("  dev: {running: []}", "  dev: SYSTEM_LOCK"))
    report = health(ws)
    assert report.reasons == [
        "queue dev is locked (SYSTEM_LOCK by a hand edit of state/tasks.yaml): it starts nothing"
    ]


def test_a_frozen_system_is_red_once_plus_the_locks_it_did_not_make(ws: Workspace, clock) -> None:
    actions.set_lock(ws, ["data"], locked=True, actor="alice", reason="incident 7")
    done = actions.freeze(ws, actor="alice", reason="leaked key")
    report = health(ws)
    assert report.status is Colour.RED
    assert report.reasons == [
        f"the system is frozen since {done.freeze.at} by alice (leaked key): no queue starts a task",
        "queue data is locked (SYSTEM_LOCK by alice) (incident 7): it starts nothing",
    ]
    assert [d.check for d in report.details] == [Check.FROZEN, Check.QUEUE_LOCKED]


def test_more_than_three_pending_proposals_is_yellow(ws: Workspace, clock) -> None:
    for n in range(3):
        proposals.new(ws, title=f"P{n}", by="alice")
    assert health(ws).status is Colour.GREEN
    proposals.new(ws, title="P3", by="alice")
    report = health(ws)
    assert report.status is Colour.YELLOW
    assert report.reasons == ["4 proposals pending (more than 3): PROP-0001, PROP-0002, PROP-0003, PROP-0004"]
    proposals.decide(ws, "PROP-0001", proposals.ProposalStatus.ACCEPTED, by="alice", reason="ok")
    assert health(ws).status is Colour.GREEN


def test_an_unresolved_deviation_is_yellow_open_or_expired(ws: Workspace, clock) -> None:
    tid = new_task(ws)
    deviations.new(ws, reason="hotfix", by="alice", expires_at="2026-11-05T00:00:00Z", tasks=[tid])
    report = health(ws)
    assert report.status is Colour.YELLOW
    assert report.reasons == [
        f"deviation DEV-0001 is unresolved (open, until 2026-11-05T00:00:00Z), covering {tid}: hotfix"
    ]
    later = health(ws, timedelta(days=5))
    assert later.reasons == [
        f"deviation DEV-0001 is unresolved (expired, expired at 2026-11-05T00:00:00Z), covering {tid}: hotfix"
    ]
    deviations.resolve(ws, "DEV-0001", by="alice", resolution="reviewed")
    assert health(ws, timedelta(days=5)).status is Colour.GREEN


def test_an_open_escalation_is_yellow_until_answered(ws: Workspace, clock) -> None:
    tid = _blocked_task(ws)
    routed = escalation_service.escalate(
        ws, tid, kind=EscalationType.BLOCKED, reason="keys never came", actor="alice"
    )
    esc = routed.escalation
    report = health(ws)
    assert report.status is Colour.YELLOW
    assert report.reasons == [
        f"escalation {esc.id} (blocked) on {tid} is open, due {esc.due_at}: keys never came"
    ]
    escalation_service.answer(ws, esc.id, note="ordered new keys", actor="alice")
    assert health(ws).status is Colour.GREEN


def test_an_unanswered_violation_is_yellow_until_a_member_answers(ws: Workspace, clock) -> None:
    tid = new_task(ws)
    task_store.violation(ws, tid, actor="bob", reason="refused: approve needs L2")
    report = health(ws)
    assert report.status is Colour.YELLOW
    assert report.reasons == [f"{tid}: violation #2 by bob is unanswered: refused: approve needs L2"]
    actions.note(ws, tid, actor="alice", reason="talked to bob")
    assert health(ws).status is Colour.GREEN


def _trail_lines(ws: Workspace, tid: str) -> list[str]:
    return ws.audit_file(tid).read_text().splitlines(keepends=True)


def test_an_edited_audit_line_is_red(ws: Workspace, clock) -> None:
    tid = ready_task(ws)
    path = ws.audit_file(tid)
    path.write_text(path.read_text().replace("inbox → ready · by alice", "inbox → ready · by mallory"))
    report = health(ws)
    assert report.status is Colour.RED
    assert report.reasons == [
        f"unaudited or altered: ops/audit/{tid}.md: #2: line #2 is altered: its text, or its event in the "
        "task file, changed after it was written (or the line before it did)"
    ]
    assert report.details[0].check is Check.UNAUDITED


def test_a_state_change_with_no_audit_line_is_red(ws: Workspace, clock) -> None:
    tid = ready_task(ws)
    path = ws.audit_file(tid)
    path.write_text("".join(_trail_lines(ws, tid)[:-1]))  # the approval's line cut off
    report = health(ws)
    assert report.status is Colour.RED
    assert report.reasons == [
        f"unaudited or altered: ops/audit/{tid}.md: unaudited: event 2 of state/tasks/{tid}.yaml have no "
        "line on the trail"
    ]


def test_a_status_edited_by_hand_with_no_event_is_red(ws: Workspace, clock) -> None:
    tid = ready_task(ws)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("status: ready", "status: done", 1))
    report = health(ws)
    assert report.status is Colour.RED
    assert report.reasons == [
        f"unaudited or altered: state/tasks/{tid}.yaml: status: status is done, but its last event left it "
        "ready: the status was changed by hand, with no event on the audit trail (so its review and merge "
        "were skipped)"
    ]


def test_a_task_file_that_cannot_be_read_is_red(ws: Workspace, clock) -> None:
    tid = new_task(ws)
    ws.task_file(tid).write_text("id: [broken\n")
    report = health(ws)
    assert report.status is Colour.RED
    assert [(d.check, d.subject) for d in report.details] == [(Check.UNREADABLE, tid)]
    assert report.reasons[0].startswith(
        f"cannot be read, so health cannot tell what it holds: state/tasks/{tid}.yaml"
    )


def test_every_reason_is_listed_red_first(ws: Workspace, clock) -> None:
    stuck = _blocked_task(ws, reason="stuck")
    actions.set_lock(ws, ["data"], locked=True, actor="alice", reason="incident 7")
    clock(T0 + timedelta(hours=50))
    waiting = _blocked_task(ws, reason="waiting")
    for n in range(4):
        proposals.new(ws, title=f"P{n}", by="alice")
    report = health(ws, timedelta(hours=80))
    assert report.status is Colour.RED
    assert [(d.colour, d.check, d.subject) for d in report.details] == [
        (Colour.RED, Check.QUEUE_LOCKED, "data"),
        (Colour.RED, Check.BLOCKED, stuck),
        (Colour.YELLOW, Check.BLOCKED, waiting),
        (Colour.YELLOW, Check.PROPOSALS, None),
    ]
    assert report.reasons == [d.text for d in report.details]


# ---- the command ----


def _travel(monkeypatch: pytest.MonkeyPatch, hours_ago: float) -> None:
    """Events recorded from now on happened ``hours_ago`` (the command itself reads the real clock)."""
    then = datetime.now(UTC) - timedelta(hours=hours_ago)
    monkeypatch.setattr("orchestrator.state.store.now", lambda: _at(then))


@pytest.mark.parametrize(
    ("hours_ago", "code", "colour"), [(1, 0, "green"), (30, 1, "yellow"), (100, 2, "red")]
)
def test_the_exit_code_follows_the_colour(ws: Workspace, cli, monkeypatch, hours_ago, code, colour) -> None:
    _travel(monkeypatch, hours_ago)
    tid = _blocked_task(ws)
    monkeypatch.undo()
    result = cli("health", "--json")
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout)
    assert data["status"] == colour
    assert len(data["reasons"]) == (0 if colour == "green" else 1)
    assert all(tid in reason for reason in data["reasons"])
    assert cli("health").exit_code == code


def test_the_text_names_the_colour_and_each_reason_with_its_fix(ws: Workspace, cli, monkeypatch) -> None:
    assert cli("health").stdout.startswith("Health: GREEN (at ")
    assert "every queue operational, no task blocked > 24 h, no unresolved deviation" in cli("health").stdout
    actions.set_lock(ws, ["data"], locked=True, actor="alice", reason="incident 7")
    result = cli("health")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Health: RED (at ") and lines[0].endswith("): 1 reason(s)")
    assert lines[1:] == [
        "  red     queue data is locked (SYSTEM_LOCK by alice) (incident 7): it starts nothing",
        "          fix: once the cause is dealt with, an L1 member or the owner runs "
        "`aios queue unlock data`",
    ]


def test_json_is_status_and_reasons(ws: Workspace, cli) -> None:
    data = json.loads(cli("health", "--json").stdout)
    assert data["status"] == "green" and data["reasons"] == []
    assert set(data) >= {"status", "reasons"}


def test_help_says_what_each_exit_code_means(cli) -> None:
    text = " ".join(cli("health", "--help").stdout.split())
    assert "Exit code: 0 green, 1 yellow, 2 red" in text


def test_store_is_only_read(ws: Workspace, clock) -> None:
    tid = _blocked_task(ws)
    files = (ws.task_file(tid), ws.audit_file(tid), ws.index_file)
    before = [f.read_text() for f in files]
    health(ws, timedelta(hours=100))
    assert [f.read_text() for f in files] == before
    assert Store(ws).read_task(tid).status.value == "blocked"


def test_the_text_shows_ten_reasons_of_a_kind_and_counts_the_rest() -> None:
    from orchestrator.cli.operations import render_health
    from orchestrator.governance.health import Reason

    details = [
        Reason(colour=Colour.RED, check=Check.BLOCKED, subject=f"T{n}", text=f"T{n} blocked")
        for n in range(12)
    ]
    report = HealthReport(
        status=Colour.RED,
        reasons=[d.text for d in details],
        details=details,
        checked_at="2026-11-02T08:00:00Z",
    )
    lines = render_health(report)
    assert lines[0] == "Health: RED (at 2026-11-02T08:00:00Z): 12 reason(s)"
    assert lines[1:11] == [f"  red     T{n} blocked" for n in range(10)]
    assert lines[11:] == ["  ... and 2 more blocked reason(s): `aios health --json` lists every one"]
