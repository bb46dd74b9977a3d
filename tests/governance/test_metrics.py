"""``aios metrics`` against figures computed by hand on a workspace with time-travelled events."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from orchestrator.governance import metrics
from orchestrator.governance.metrics import compute, p90
from orchestrator.state import _cache, audit
from orchestrator.state import sessions as session_store
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, EventKind, TaskState
from orchestrator.state.sessions import Session, SessionState
from orchestrator.state.workspace import Workspace

TODAY = date(2026, 11, 19)  # a Thursday of 2026-W47
SES_BAD = "SES-aaaaaaaaaaaa"


def _task(ws: Workspace, number: int, moves: list[tuple[str, Status, EventKind | None]]) -> None:
    """Write a task file and its trail whose events happened at the given times."""
    tid = f"TASK_DEV_{number:04d}"
    events, before = [], None
    for seq, (at, to, kind) in enumerate(moves, number * 100):
        session = SES_BAD if kind is EventKind.VIOLATION else None
        events.append(
            Event(seq=seq, at=at, actor="alice", from_=before, to=to, reason="r", kind=kind, session=session)
        )
        before = to
    task = TaskState(
        id=tid,
        title="t",
        queue="dev",
        card=f"tasks/inbox/{tid}.md",
        status=before,  # type: ignore[arg-type]
        created_at=moves[0][0],
        updated_at=moves[-1][0],
        events=events,
    )
    ws.task_file(tid).write_text(task.to_yaml())
    audit.append(ws, task, start=0)


def _done(ws: Workspace, number: int, created: str, done: str, extra: list | None = None) -> None:
    _task(
        ws,
        number,
        [
            (created, Status.INBOX, None),
            (created, Status.READY, None),
            *(extra or []),
            (done, Status.DONE, None),
        ],
    )


def _session(
    n: int, created: str, *, state: SessionState, by: str | None, reason: str | None, expires: str
) -> Session:
    return Session(
        id=f"SES-{n:012x}" if n else SES_BAD, agent_id="bot", role_mode="builder", token_sha256="0" * 64,
        state=state, created_by="alice", created_at=created, expires_at=expires,
        terminated_by=by, terminated_at=created if by else None, reason=reason,
    )  # fmt: skip


@pytest.fixture
def fixture_ws(ws: Workspace) -> Workspace:
    _done(ws, 1, "2026-11-02T00:00:00.000Z", "2026-11-03T00:00:00.000Z")  # 1 day, W45
    _done(ws, 2, "2026-11-02T00:00:00.000Z", "2026-11-06T00:00:00.000Z")  # 4 days, W45
    violation = ("2026-11-10T00:00:00.000Z", Status.READY, EventKind.VIOLATION)
    _done(ws, 3, "2026-11-09T12:00:00.000Z", "2026-11-11T12:00:00.000Z", [violation])  # 2 days, W46
    _task(ws, 4, [("2026-11-10T00:00:00.000Z", Status.INBOX, None)])  # live: not completed
    log = ws.governance_log
    log.write_text(
        "# Governance log\n\n"
        "- 2026-11-05T00:00:00.000Z · violation · by agent:bot · refused (session): x\n"
        "- 2026-11-05T00:00:00.000Z · alice (human) · member add bob\n"
    )
    ended = "2026-11-01T00:00:00Z"
    done, term, live = SessionState.TERMINATED, SessionState.TERMINATED, SessionState.ACTIVE
    nov2, nov10, hand = "2026-11-02T00:00:00.000Z", "2026-11-10T00:00:00.000Z", session_store.HAND_EDIT
    held = [
        _session(1, nov2, state=live, by=None, reason=None, expires=ended),  # expired: ok
        _session(2, nov2, state=term, by="alice", reason="run step ended", expires=ended),  # ok
        _session(3, nov2, state=term, by=hand, reason="terminated by hand", expires=ended),  # failed
        _session(0, nov10, state=done, by="alice", reason="done", expires=ended),  # a violation in it
        _session(5, nov10, state=live, by=None, reason=None, expires="2099-01-01T00:00:00Z"),  # live
    ]
    session_store.save(ws, session_store.SessionsFile(sessions=held))
    reviews = {1: [("NEEDS_REVISION"), ("APPROVED")], 3: ["APPROVED"]}
    for number, verdicts in reviews.items():
        folder = ws.reviews_dir(f"TASK_DEV_{number:04d}")
        folder.mkdir(parents=True)
        for i, verdict in enumerate(verdicts, 1):
            (folder / f"round-{i}.json").write_text(json.dumps({"verdict": verdict}))
    usage = {1: (1000, 500, 0.01), 3: (300, 200, 0.004)}
    for number, (i, o, usd) in usage.items():
        total = {"input_tokens": i, "output_tokens": o, "cost_usd": usd}
        ws.usage_file(f"TASK_DEV_{number:04d}").write_text(json.dumps({"total": total}))
    return ws


def test_every_figure_matches_the_hand_computed_one(fixture_ws: Workspace) -> None:
    m = compute(fixture_ws, today=TODAY)
    assert m.weeks == ["2026-W45", "2026-W46", "2026-W47"]
    assert (m.completed_per_week, m.completed, m.tasks_per_week) == ([2, 1, 0], 3, 1.0)
    assert (m.cycle_days_avg, m.cycle_days_p90) == (2.33, 4.0)  # (1 + 4 + 2) / 3; nearest rank of 3
    assert (m.violations, m.violations_on_tasks, m.violations_in_log) == (2, 1, 1)
    # Ended: expired, run step ended (ok); hand edit, a violation in the session (failed); one live.
    assert (m.sessions_ended, m.sessions_failed, m.session_success_rate) == (4, 2, 0.5)
    assert (m.reviewed_tasks, m.review_rounds_per_task) == (2, 1.5)
    assert m.verdicts == {"APPROVED": 2, "NEEDS_REVISION": 1}
    assert (m.tokens, m.cost_usd, m.tokens_per_task, m.cost_per_task_usd) == (2000, 0.014, 1000.0, 0.007)
    assert (m.tokens_per_week, m.cost_per_week_usd) == ([1500, 500, 0], [0.01, 0.004, 0.0])
    assert m.on_target == {
        "tasks_per_week": False,
        "cycle_days_avg": True,
        "violations": False,
        "session_success_rate": False,
    }


def test_since_counts_only_what_happened_from_that_date(fixture_ws: Workspace) -> None:
    m = compute(fixture_ws, since=date(2026, 11, 9), today=TODAY)
    assert (m.weeks, m.completed_per_week, m.tasks_per_week) == (["2026-W46", "2026-W47"], [1, 0], 0.5)
    assert (m.cycle_days_avg, m.violations, m.violations_in_log) == (2.0, 1, 0)
    assert (m.sessions_ended, m.sessions_failed) == (1, 1)  # only the one opened on 11-10 that ended
    assert (m.reviewed_tasks, m.verdicts, m.tokens) == (1, {"APPROVED": 1}, 500)


def test_cached_trails_give_the_same_figures_and_a_new_line_is_seen_at_once(
    fixture_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cache, "RACY_NS", 0)  # cache the trails written a moment ago
    first = compute(fixture_ws, today=TODAY)
    read: list[str] = []
    real_read = metrics.read_trail

    def counting(path: Path) -> metrics.Trail:
        read.append(path.stem)
        return real_read(path)

    monkeypatch.setattr(metrics, "read_trail", counting)
    assert compute(fixture_ws, today=TODAY) == first and read == []  # every trail from the cache
    trail = fixture_ws.audit_file("TASK_DEV_0004")
    created = trail.read_text().splitlines(keepends=True)[-1]
    done = created.replace("#1 ", "#2 ").replace("created → inbox", "inbox → done")
    trail.write_text(trail.read_text() + done.replace("2026-11-10", "2026-11-12"))
    assert compute(fixture_ws, today=TODAY).completed == first.completed + 1
    assert read == ["TASK_DEV_0004"]  # only the changed trail was read again


def test_p90_is_the_nearest_rank() -> None:
    assert p90([1.0]) == 1.0
    assert p90([float(n) for n in range(1, 11)]) == 9.0
    assert p90([float(n) for n in range(1, 12)]) == 10.0


def test_the_command_prints_each_figure_beside_its_target_and_a_trend(fixture_ws: Workspace, cli) -> None:
    result = cli("metrics", "--since", "2026-11-02")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "  tasks completed / week" in out and ">= 10     MISS" in out
    assert "2.33 d  < 3 d     ok" in out
    assert "governance violations                    2  = 0       MISS" in out
    assert "50 %  > 95%     MISS" in out
    assert "Throughput per week: █▅" in out  # 2, 1, then the weeks up to today
    data = json.loads(cli("metrics", "--json").stdout)
    assert data["completed"] == 3 and data["targets"]["cycle_days_avg"] == "< 3"


def test_a_bad_date_is_a_clear_error(cli) -> None:
    result = cli("metrics", "--since", "last week")
    assert result.exit_code == 1
    assert "--since: 'last week' is not a date\n  fix: write it as YYYY-MM-DD" in result.stderr
