"""``aios metrics``: the operating model's key figures, each beside its target.

Read from what the workspace records, as the operating model says ("Source: audit timestamps"):

- **throughput** and **cycle time** from the audit trails (``ops/audit/`` and ``ops/archive/``): a
  task's cycle runs from its first line (created) to its last move to ``done``; a week is an ISO
  week (``2026-W49``) of that move. Trails are plain text read line by line (no YAML), so 10,000
  tasks take a fraction of a second; ``aios state check`` proves they match the task files.
- **governance violations**: lines of kind ``[violation]`` on the trails plus the refusals in
  ``ops/audit/governance.md``.
- **agent session success rate**: of the sessions in ``state/sessions.yaml`` that ended, the
  share that ended normally: expired, or terminated by their agent, a member or the run that
  opened them. A session fails when it was terminated by a hand edit of the file (the emergency
  procedure), by its agent's revocation, or by a stop or freeze, or when a violation was recorded
  in it. Live sessions are not counted yet.
- **review rounds per task** and the **verdict mix** from ``ops/reviews/<ID>/round-<N>.json``;
  **tokens and cost** from ``ops/reviews/<ID>/usage.json`` (the task's totals), counted in the
  week the task was completed (or last moved, when it is not done).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator import _gc
from orchestrator.state import scan
from orchestrator.state import sessions as session_store
from orchestrator.state.workspace import Workspace

#: The operating model's targets (§9.1).
TARGET_TASKS_PER_WEEK = 10
TARGET_CYCLE_DAYS = 3.0
TARGET_VIOLATIONS = 0
TARGET_SESSION_SUCCESS = 0.95

_FAILED_BY = (session_store.HAND_EDIT,)
_FAILED_REASONS = ("agent revoked", "stop", "freeze", "frozen")


@dataclass
class Trail:
    """What one task's audit trail says, read from its lines."""

    task: str
    created: datetime | None = None
    done: datetime | None = None
    last: datetime | None = None
    violations: list[datetime] = field(default_factory=list)
    violation_sessions: set[str] = field(default_factory=set)


@dataclass
class Metrics:
    """The figures of ``aios metrics``; ``None`` where there is nothing to measure yet."""

    since: str | None
    weeks: list[str]
    completed_per_week: list[int]
    completed: int
    tasks_per_week: float
    cycle_days_avg: float | None
    cycle_days_p90: float | None
    violations: int
    violations_on_tasks: int
    violations_in_log: int
    sessions_ended: int
    sessions_failed: int
    session_success_rate: float | None
    reviewed_tasks: int
    review_rounds_per_task: float | None
    verdicts: dict[str, int]
    tokens: int
    cost_usd: float
    tokens_per_task: float | None
    cost_per_task_usd: float | None
    tokens_per_week: list[int]
    cost_per_week_usd: list[float]
    targets: dict[str, Any] = field(
        default_factory=lambda: {
            "tasks_per_week": f">= {TARGET_TASKS_PER_WEEK}",
            "cycle_days_avg": f"< {TARGET_CYCLE_DAYS:g}",
            "violations": f"= {TARGET_VIOLATIONS}",
            "session_success_rate": f"> {TARGET_SESSION_SUCCESS:.0%}",
        }
    )
    on_target: dict[str, bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@_gc.pausing
def compute(ws: Workspace, *, since: date | None = None, today: date | None = None) -> Metrics:
    """The figures from ``since`` (a date, inclusive; default: everything recorded) to ``today``."""
    start = datetime.combine(since, datetime.min.time(), UTC) if since else None
    trails = read_trails(ws, _trail_files(ws))
    done = [t for t in trails if t.done and (start is None or t.done >= start)]
    first = start or min((t.done for t in done if t.done), default=None)
    weeks = _weeks(first.date() if first else None, today or datetime.now(UTC).date())
    per_week = dict.fromkeys(weeks, 0)
    for t in done:
        per_week[_week(t.done)] = per_week.get(_week(t.done), 0) + 1  # type: ignore[arg-type]
    cycles = sorted((t.done - t.created).total_seconds() / 86400 for t in done if t.done and t.created)
    log_violations = _log_violations(ws, start)
    task_violations = [v for t in trails for v in t.violations if start is None or v >= start]
    ended, failed = _sessions(
        ws, start, {s for t in trails for s in t.violation_sessions} | log_violations[1]
    )
    metrics = Metrics(
        since=since.isoformat() if since else None,
        weeks=weeks,
        completed_per_week=[per_week[w] for w in weeks],
        completed=len(done),
        tasks_per_week=round(len(done) / max(len(weeks), 1), 2),
        cycle_days_avg=round(sum(cycles) / len(cycles), 2) if cycles else None,
        cycle_days_p90=round(p90(cycles), 2) if cycles else None,
        violations=len(task_violations) + log_violations[0],
        violations_on_tasks=len(task_violations),
        violations_in_log=log_violations[0],
        sessions_ended=ended,
        sessions_failed=failed,
        session_success_rate=round((ended - failed) / ended, 4) if ended else None,
        **_reviews(ws, trails, start, weeks),
    )
    metrics.on_target = _on_target(metrics)
    return metrics


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank of sorted ``values`` (the value 90 % are at or below)."""
    return values[max(math.ceil(0.9 * len(values)) - 1, 0)]


def read_trail(path: Path) -> Trail:
    """A trail's creation, completion, last move and violations, from its event lines."""
    trail = Trail(path.stem)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("- #"):
                continue
            parts = line.rstrip("\n").split(" · ", 4)
            if len(parts) < 4 or not parts[3].startswith("by "):
                continue
            at, move = _time(parts[1]), parts[2]
            if at is None:
                continue
            trail.created = trail.created or at
            trail.last = at
            if move.endswith("→ done"):
                trail.done = at
            if move.endswith("[violation]"):
                trail.violations.append(at)
                if len(parts) > 4 and parts[4].startswith("session "):
                    trail.violation_sessions.add(parts[4].split(" ", 2)[1])
    return trail


def read_trails(ws: Workspace, paths: list[Path]) -> list[Trail]:
    """``read_trail`` of each path; a trail unchanged since the last run comes from the scan cache."""
    rows = scan.cached(ws, _TRAIL_KIND, paths, lambda path: _trail_json(read_trail(path)))
    return [_trail_from_json(path, row) for path, row in zip(paths, rows, strict=True)]


#: What the scan cache keeps of a trail for metrics (versioned by this module's source).
_TRAIL_KIND = "metrics-trail"


def _trail_json(trail: Trail) -> list[Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return [
        trail.task,
        iso(trail.created),
        iso(trail.done),
        iso(trail.last),
        [at.isoformat() for at in trail.violations],
        sorted(trail.violation_sessions),
    ]


def _trail_from_json(path: Path, row: list[Any]) -> Trail:
    def at(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    try:
        task, created, done, last, violations, in_sessions = row
        if task != path.stem:
            raise ValueError(task)
        return Trail(
            path.stem,
            created=at(created),
            done=at(done),
            last=at(last),
            violations=[datetime.fromisoformat(v) for v in violations],
            violation_sessions={str(s) for s in in_sessions},
        )
    except (TypeError, ValueError):
        return read_trail(path)  # a damaged cache row: the trail itself is the truth


def _trail_files(ws: Workspace) -> list[Path]:
    found: list[Path] = []
    for folder in (ws.audit_dir, ws.archive_dir):
        try:
            entries = os.scandir(folder)
        except FileNotFoundError:
            continue
        with entries:
            found += [Path(e.path) for e in entries if e.name.startswith("TASK_") and e.name.endswith(".md")]
    return found


def _time(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _week(at: datetime | date) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def _weeks(first: date | None, last: date) -> list[str]:
    """Every ISO week from ``first``'s to ``last``'s (just ``last``'s when nothing is recorded)."""
    day = first if first and first <= last else last
    day -= timedelta(days=day.weekday())
    weeks = []
    while day <= last:
        weeks.append(_week(day))
        day += timedelta(days=7)
    return weeks


def _log_violations(ws: Workspace, start: datetime | None) -> tuple[int, set[str]]:
    """Refusals in the governance log since ``start``, and the sessions they were made in."""
    count, in_sessions = 0, set()
    try:
        text = ws.governance_log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return 0, set()
    for line in text.splitlines():
        parts = line.split(" · ", 3)
        if len(parts) < 3 or not line.startswith("- ") or parts[1] != "violation":
            continue
        at = _time(parts[0][2:])
        if at is None or (start is not None and at < start):
            continue
        count += 1
        if " in session " in parts[2]:
            in_sessions.add(parts[2].rsplit(" in session ", 1)[1])
    return count, in_sessions


def _sessions(ws: Workspace, start: datetime | None, with_violations: set[str]) -> tuple[int, int]:
    """Sessions opened since ``start`` that ended, and how many of them failed (see the module doc)."""
    ended = failed = 0
    for s in session_store.load(ws).sessions:
        opened = _time(s.created_at)
        if s.live() or (start is not None and opened is not None and opened < start):
            continue
        ended += 1
        reason = (s.reason or "").lower()
        if (
            s.id in with_violations
            or s.terminated_by in _FAILED_BY
            or any(word in reason for word in _FAILED_REASONS)
        ):
            failed += 1
    return ended, failed


def _reviews(ws: Workspace, trails: list[Trail], start: datetime | None, weeks: list[str]) -> dict[str, Any]:
    """Review rounds, verdicts, tokens and cost of the tasks that moved since ``start``."""
    rounds: dict[str, int] = {}
    verdicts: dict[str, int] = {}
    tokens = cost = 0.0
    tokens_week, cost_week = dict.fromkeys(weeks, 0), dict.fromkeys(weeks, 0.0)
    used: list[tuple[int, float]] = []
    for t in trails:
        when = t.done or t.last
        if when is None or (start is not None and when < start):
            continue
        folder = ws.reviews_dir(t.task)
        if not folder.is_dir():
            continue
        for report in folder.glob("round-*.json"):
            rounds[t.task] = rounds.get(t.task, 0) + 1
            verdict = _json(report).get("verdict", "unknown")
            verdicts[str(verdict)] = verdicts.get(str(verdict), 0) + 1
        total = _json(ws.usage_file(t.task)).get("total") or {}
        if total:
            n = int(total.get("input_tokens", 0)) + int(total.get("output_tokens", 0))
            usd = float(total.get("cost_usd", 0.0))
            used.append((n, usd))
            tokens, cost = tokens + n, cost + usd
            if _week(when) in tokens_week:
                tokens_week[_week(when)] += n
                cost_week[_week(when)] = round(cost_week[_week(when)] + usd, 6)
    return {
        "reviewed_tasks": len(rounds),
        "review_rounds_per_task": round(sum(rounds.values()) / len(rounds), 2) if rounds else None,
        "verdicts": dict(sorted(verdicts.items())),
        "tokens": int(tokens),
        "cost_usd": round(cost, 6),
        "tokens_per_task": round(tokens / len(used), 1) if used else None,
        "cost_per_task_usd": round(cost / len(used), 6) if used else None,
        "tokens_per_week": [tokens_week[w] for w in weeks],
        "cost_per_week_usd": [cost_week[w] for w in weeks],
    }


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _on_target(m: Metrics) -> dict[str, bool | None]:
    return {
        "tasks_per_week": m.tasks_per_week >= TARGET_TASKS_PER_WEEK,
        "cycle_days_avg": None if m.cycle_days_avg is None else m.cycle_days_avg < TARGET_CYCLE_DAYS,
        "violations": m.violations == TARGET_VIOLATIONS,
        "session_success_rate": (
            None if m.session_success_rate is None else m.session_success_rate > TARGET_SESSION_SUCCESS
        ),
    }
