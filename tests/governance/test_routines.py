"""``aios standup`` and ``aios weekly`` on fixture workspaces: each section, each item checked or open."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers import agent_session, new_task, ready_task

from orchestrator.governance import actions
from orchestrator.governance import agents as agent_service
from orchestrator.governance import escalations as escalation_service
from orchestrator.governance.routines import Item, Weekly, standup, weekly
from orchestrator.state import decisions, deviations, proposals, sessions
from orchestrator.state.escalations import EscalationType
from orchestrator.state.records import TaskState
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _at(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Sets the time stamped on the events and governance log lines recorded from now on."""

    def set_time(when: datetime) -> None:
        monkeypatch.setattr("orchestrator.state.store.now", lambda: _at(when))
        monkeypatch.setattr("orchestrator.state.audit.now", lambda: _at(when))

    set_time(T0)
    return set_time


# ---- standup ----


@pytest.fixture
def morning(ws: Workspace, clock) -> dict[str, str]:
    """Yesterday's quiet work (3 days ago), then a night's: started, reviewed, blocked, escalated."""
    clock(T0 - timedelta(days=3))
    old = new_task(ws, title="Old and quiet")
    clock(T0)
    running = ready_task(ws)
    actions.transition(ws, running, "start", actor="alice")
    review = ready_task(ws)
    actions.transition(ws, review, "start", actor="alice")
    actions.transition(ws, review, "finish", actor="alice")
    stuck = ready_task(ws)
    actions.transition(ws, stuck, "block", actor="alice", reason="no keys")
    urgent = new_task(ws, title="Urgent")
    actions.triage(ws, urgent, priority=1, actor="alice")
    escalation_service.escalate(ws, stuck, kind=EscalationType.BLOCKED, reason="still no keys", actor="alice")
    agent_service.request(ws, "Helper Bot", role_modes=[RoleMode.BUILDER], queues=None, via="mcp")
    proposals.new(ws, title="Add a data queue", by="alice")
    return {"old": old, "running": running, "review": review, "stuck": stuck, "urgent": urgent}


def test_standup_lists_the_nights_activity_from_the_trails(ws: Workspace, morning) -> None:
    s = standup(ws, since=T0 - timedelta(hours=24), now=T0 + timedelta(hours=2))
    by_task = {a.task: a for a in s.activity}
    assert morning["old"] not in by_task  # its only event is three days old
    assert by_task[morning["running"]].moves == ["inbox", "ready", "running"]
    assert by_task[morning["review"]].moves == ["inbox", "ready", "running", "reviewing"]
    assert by_task[morning["stuck"]].events == 4  # created, approved, blocked, the escalation's note
    assert by_task[morning["urgent"]].moves == ["inbox"] and by_task[morning["urgent"]].events == 2
    assert all(a.actors == ["alice"] for a in s.activity)
    assert s.events == 3 + 4 + 4 + 2
    assert any("agent helper-bot asked to join (mcp)" in line for line in s.governance)
    assert (s.since, s.until) == ("2026-11-01T08:00:00Z", "2026-11-02T10:00:00Z")


def test_standup_lists_the_inbox_by_priority_and_the_running_tasks(ws: Workspace, morning) -> None:
    s = standup(ws, since=T0 - timedelta(hours=24), now=T0 + timedelta(hours=2))
    assert [(t.id, t.priority) for t in s.inbox] == [(morning["urgent"], 1), (morning["old"], 3)]
    assert [(t.id, t.status, t.since) for t in s.running] == [(morning["running"], "running", _at(T0))]


def test_standup_lists_what_waits_for_a_human(ws: Workspace, morning) -> None:
    s = standup(ws, since=T0 - timedelta(hours=24), now=T0 + timedelta(hours=2))
    assert [(w.kind, w.subject) for w in s.waiting] == [
        ("human_review", morning["review"]),
        ("escalation", "ESC-0001"),
        ("blocked", morning["stuck"]),
        ("agent", "helper-bot"),
        ("proposal", "PROP-0001"),
    ]
    waits = {w.kind: w for w in s.waiting}
    assert waits["blocked"].text == "blocked by alice: no keys"
    assert waits["blocked"].since == _at(T0)
    review = morning["review"]
    assert waits["human_review"].fix == (
        f"`aios review approve {review}` or `aios review reject {review} --feedback ...`"
    )
    assert waits["escalation"].text.startswith(f"blocked on {morning['stuck']}: still no keys; ")


def test_a_quiet_night_has_nothing_to_report(ws: Workspace, clock) -> None:
    clock(T0 - timedelta(days=3))
    new_task(ws)
    s = standup(ws, since=T0 - timedelta(hours=24), now=T0)
    assert (s.events, s.activity, s.governance, s.running, s.waiting) == (0, [], [], [], [])
    assert len(s.inbox) == 1


def test_the_standup_command_reads_at_a_glance(ws: Workspace, cli, morning) -> None:
    result = cli("standup", "--since", "2026-11-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Standup: 2026-11-01T00:00:00Z .. ")
    assert lines[1] == "Activity: 13 event(s) on 4 task(s), 1 governance log line(s)"
    assert f"  {morning['urgent']}    P1  dev        Urgent" in lines
    assert "Waiting for a human: 5" in lines
    blocked = next(line for line in lines if line.startswith("  blocked "))
    assert blocked.startswith(f"  blocked      {morning['stuck']}   ") and blocked.endswith(
        "  blocked by alice: no keys"
    )
    data = json.loads(cli("standup", "--since", "2026-11-01", "--json").stdout)
    assert set(data) == {"since", "until", "events", "activity", "governance", "inbox", "running", "waiting"}
    assert data["events"] == 13


def test_since_takes_a_duration_or_a_time_and_refuses_anything_else(cli) -> None:
    assert cli("standup", "--since", "3d").exit_code == 0
    assert cli("standup", "--since", "2026-11-01T08:00:00Z").exit_code == 0
    result = cli("standup", "--since", "yesterday")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --since: 'yesterday' is neither a duration nor a time\n"
        "  fix: a duration back from now (`12h`, `3d`) or a time (`2026-12-06`, `2026-12-06T08:00:00Z`)\n"
    )


# ---- weekly ----


def _no_spec_problems(ws: Workspace, task: TaskState) -> list[str]:
    return []


def _weekly(ws: Workspace, now: datetime | None = None, spec=_no_spec_problems) -> Weekly:
    return weekly(ws, now=now or datetime.now(UTC), spec_check=spec)


def _items(report: Weekly) -> dict[str, Item]:
    return {i.key: i for i in report.items}


def test_a_tidy_workspace_checks_every_item(ws: Workspace) -> None:
    new_task(ws)
    report = _weekly(ws)
    assert [(i.section, i.key, i.checked) for i in report.items] == [
        ("governance", "decisions", True),
        ("governance", "proposals", True),
        ("governance", "deviations", True),
        ("system_health", "orphaned_tasks", True),
        ("system_health", "agents", True),
        ("system_health", "sessions", True),
        ("system_health", "consistency", True),
    ]
    assert report.open == 0
    assert all(i.todo is None and i.details == [] for i in report.items)


def test_new_decisions_are_open_for_a_week(ws: Workspace) -> None:
    decisions.new(ws, title="Pin ruff", by="alice")
    item = _items(_weekly(ws))["decisions"]
    assert (item.checked, item.details, item.subjects) == (False, ["DEC-0001 Pin ruff"], ["DEC-0001"])
    assert item.todo == "read each: `aios decision show DEC-NNNN`"
    assert _items(_weekly(ws, datetime.now(UTC) + timedelta(days=8)))["decisions"].checked


def test_pending_proposals_are_open_until_decided(ws: Workspace) -> None:
    proposals.new(ws, title="Add a data queue", by="alice")
    item = _items(_weekly(ws))["proposals"]
    assert (item.checked, item.summary, item.subjects) == (False, "1 pending", ["PROP-0001"])
    proposals.decide(ws, "PROP-0001", proposals.ProposalStatus.REJECTED, by="alice", reason="not now")
    assert _items(_weekly(ws))["proposals"].checked


def test_unresolved_deviations_are_open_and_expired_ones_say_so(ws: Workspace) -> None:
    tid = new_task(ws)
    soon = deviations.expiry("2d")
    deviations.new(ws, reason="hotfix", by="alice", expires_at=soon, tasks=[tid])
    item = _items(_weekly(ws))["deviations"]
    assert (item.checked, item.summary) == (False, "1 open, 0 expired unresolved, 1 declared this week")
    assert item.details == [f"DEV-0001 open (expires {soon}), covering {tid}: hotfix"]
    later = _items(_weekly(ws, datetime.now(UTC) + timedelta(days=3)))["deviations"]
    assert later.summary == "0 open, 1 expired unresolved, 1 declared this week"
    assert later.details[0].startswith("DEV-0001 expired")
    deviations.resolve(ws, "DEV-0001", by="alice", resolution="reviewed")
    assert _items(_weekly(ws))["deviations"].checked


def test_a_task_holding_its_slot_over_7_days_is_an_orphan(ws: Workspace) -> None:
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    assert _items(_weekly(ws, datetime.now(UTC) + timedelta(days=6)))["orphaned_tasks"].checked
    item = _items(_weekly(ws, datetime.now(UTC) + timedelta(days=8)))["orphaned_tasks"]
    assert (item.checked, item.subjects) == (False, [tid])
    assert item.details[0].startswith(f"{tid} running for 8.0 d, last change ")


def test_pending_test_and_stale_agents_are_open(ws: Workspace) -> None:
    agent_service.request(ws, "Helper Bot", role_modes=[RoleMode.BUILDER], queues=None, via="mcp")
    agent_service.register(ws, "test-runner", role_modes=[RoleMode.BUILDER], queues=None, actor="alice")
    item = _items(_weekly(ws))["agents"]
    assert item.checked is False
    assert item.details == ["helper-bot asks to join (pending)", "test-runner: a test agent"]
    assert item.todo == (
        "`aios agent approve ID` or `aios agent revoke ID` the pending; "
        "`aios agent prune` revokes the test and stale ones"
    )


def test_stale_sessions_are_open(ws: Workspace) -> None:
    tid, other = ready_task(ws), ready_task(ws)
    lasting = agent_session(ws, "coder", scope=[tid])
    finished = agent_session(ws, "coder", scope=[other])
    with sessions.editing(ws) as held:
        for s in held.sessions:
            s.expires_at = "2099-01-01T00:00:00Z"  # long-lived sessions
    assert _items(_weekly(ws))["sessions"].checked
    for action in ("start", "finish", "merge"):
        actions.transition(ws, other, action, actor="alice")
    item = _items(_weekly(ws))["sessions"]
    assert (item.checked, item.subjects) == (False, [finished.id])
    assert item.details == [f"{finished.id} of agent:coder: every task in its scope is done"]
    later = _items(_weekly(ws, datetime.now(UTC) + timedelta(days=8)))["sessions"]
    assert later.subjects == [lasting.id, finished.id]
    assert later.details[0] == f"{lasting.id} of agent:coder: live since {lasting.created_at}"
    assert later.todo == "`aios session terminate SES-...` each"


def test_state_and_spec_problems_are_open(ws: Workspace) -> None:
    tid = ready_task(ws)
    item = _items(_weekly(ws, spec=lambda w, t: [f"the card of {t.id} moved"]))["consistency"]
    assert (item.checked, item.subjects) == (False, [tid])
    assert item.details == [f"{tid}: spec gate: the card of {tid} moved"]
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("status: ready", "status: running", 1))
    item = _items(_weekly(ws))["consistency"]
    assert item.checked is False
    assert any(d.startswith(f"state/tasks/{tid}.yaml: status: status is running") for d in item.details)


def test_the_real_spec_gate_passes_a_consistent_task(ws: Workspace, cli) -> None:
    new_task(ws)
    result = cli("weekly")
    assert result.exit_code == 0, result.output
    assert "  [x] Validate spec and state consistency" in result.stdout


def test_a_record_that_cannot_be_read_leaves_its_item_open(ws: Workspace) -> None:
    proposals.new(ws, title="Add a data queue", by="alice")
    path = next(ws.proposals_dir.glob("*-PROP-0001.md"))
    path.write_text(path.read_text().replace("title:", "titel:"))
    item = _items(_weekly(ws))["proposals"]
    assert item.checked is False and item.summary.startswith("cannot be read: ")
    assert item.todo  # the record's own fix


def test_the_weekly_command_marks_each_item(ws: Workspace, cli) -> None:
    proposals.new(ws, title="Add a data queue", by="alice")
    result = cli("weekly")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].endswith(", 1 open of 7")
    week_ago = (datetime.now(UTC) - timedelta(days=7)).date()
    assert lines[1:7] == [
        "governance",
        f"  [x] {'Review all new decision-log entries':<48} 0 new since {week_ago}",
        f"  [ ] {'Process pending proposals':<48} 1 pending",
        f"        PROP-0001 Add a data queue (since {datetime.now(UTC).date()})",
        "        do: decide each: `aios proposal accept|reject PROP-NNNN --reason ...`",
        f"  [x] {'Audit deviation declarations':<48} 0 open, 0 expired unresolved, 0 declared this week",
    ]
    assert "system health" in lines
    data = json.loads(cli("weekly", "--json").stdout)
    assert data["open"] == 1 and [i["checked"] for i in data["items"]].count(False) == 1
