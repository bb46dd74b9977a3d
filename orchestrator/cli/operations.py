"""``aios metrics``, ``health``, ``standup``, ``weekly`` and ``maintenance ...``: the operating
model's figures, health indicators, daily and weekly routines, and monthly maintenance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json

if TYPE_CHECKING:
    from orchestrator.governance.health import HealthReport
    from orchestrator.governance.metrics import Metrics
    from orchestrator.governance.routines import Standup, Weekly
    from orchestrator.state.records import TaskState
    from orchestrator.state.workspace import Workspace

maintenance_app = typer.Typer(
    help="Monthly maintenance: archive finished tasks' audit trails.", no_args_is_help=True
)

_BARS = "▁▂▃▄▅▆▇█"


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics)
    app.command("health")(health)
    app.command("standup")(standup)
    app.command("weekly")(weekly)
    app.add_typer(maintenance_app, name="maintenance")


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        from orchestrator.errors import ConfigError

        raise ConfigError(f"{text!r} is not a date", field="--since", fix="write it as YYYY-MM-DD") from None


def metrics(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Count from this date (YYYY-MM-DD).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Tasks per week, cycle time, violations, session success, review rounds, verdicts, tokens, cost."""
    from orchestrator.governance.metrics import compute

    result = compute(state(ctx).workspace(), since=_parse_date(since))
    if as_json:
        print_json(result.to_dict())
        return
    for line in render(result):
        echo(line)


def sparkline(values: list[int] | list[float]) -> str:
    """One bar per value, scaled to the largest (all ``▁`` when every value is 0)."""
    top = max(values, default=0) or 1
    return "".join(_BARS[min(int(v / top * (len(_BARS) - 1) + 0.5), len(_BARS) - 1)] for v in values)


def render(m: Metrics) -> list[str]:
    """The figures, one a line, each with its target and a mark: ok, MISS, or - (nothing to measure)."""

    def mark(key: str) -> str:
        hit = m.on_target.get(key)
        return "-" if hit is None else ("ok" if hit else "MISS")

    def num(value: float | None, unit: str = "") -> str:
        return "n/a" if value is None else f"{value:g}{unit}"

    rate = None if m.session_success_rate is None else round(m.session_success_rate * 100, 2)
    window = f"since {m.since}" if m.since else "all recorded"
    weeks = f"{m.weeks[0]} .. {m.weeks[-1]}" if m.weeks else ""
    cycle_target = m.targets["cycle_days_avg"] + " d"
    lines = [
        f"Metrics, {window} ({len(m.weeks)} week(s): {weeks})",
        f"  {'figure':<28}{'value':>14}  {'target':<10}",
        f"  {'tasks completed / week':<28}{num(m.tasks_per_week):>14}  {m.targets['tasks_per_week']:<10}"
        f"{mark('tasks_per_week')}",
        f"  {'cycle time, average':<28}{num(m.cycle_days_avg, ' d'):>14}  {cycle_target:<10}"
        f"{mark('cycle_days_avg')}",
        f"  {'cycle time, p90':<28}{num(m.cycle_days_p90, ' d'):>14}",
        f"  {'governance violations':<28}{m.violations:>14}  {m.targets['violations']:<10}"
        f"{mark('violations')}",
        f"  {'agent session success':<28}{num(rate, ' %'):>14}  {m.targets['session_success_rate']:<10}"
        f"{mark('session_success_rate')}",
        f"  {'review rounds / task':<28}{num(m.review_rounds_per_task):>14}",
        f"  {'verdicts':<28}{_verdicts(m.verdicts):>14}",
        f"  {'tokens / task':<28}{num(m.tokens_per_task):>14}",
        f"  {'cost / task':<28}{num(m.cost_per_task_usd, ' USD'):>14}",
        f"  {'tokens, cost in all':<28}{f'{m.tokens} / {m.cost_usd:g} USD':>14}",
        f"Throughput per week: {sparkline(m.completed_per_week)}  "
        f"({', '.join(map(str, m.completed_per_week[-12:]))}{' (last 12)' if len(m.weeks) > 12 else ''})",
    ]
    if any(m.tokens_per_week):
        lines.append(f"Cost per week:       {sparkline(m.cost_per_week_usd)}")
    return lines


def _verdicts(verdicts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in verdicts.items()) or "none"


@maintenance_app.command("archive-audits")
def archive_audits(
    ctx: typer.Context,
    older_than: Annotated[
        int, typer.Option("--older-than", min=0, help="Days since the finished task's last event.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Move the audit trails of tasks done more than DAYS ago to ops/archive/ (they stay readable)."""
    from orchestrator.state.archive import archive_audits as move

    ws = state(ctx).workspace()
    moved = move(ws, older_than_days=older_than)
    if as_json:
        print_json({"archived": moved, "to": ws.rel(ws.archive_dir)})
    else:
        echo(f"Archived {len(moved)} audit trail(s) to {ws.rel(ws.archive_dir)}/.")


# ---- health and the routines ----

#: Lines shown per kind of reason, per list of the standup and per checklist item; --json has all.
SHOWN = 10


def health(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Green, yellow or red, with every reason, by the operating model's rules.

    Exit code: 0 green, 1 yellow, 2 red (so a script can gate on it; a usage error also exits 2,
    and --json then prints no "status"). Red: a queue locked or the system frozen, a task blocked
    more than 72 h, an unaudited or altered action. Yellow: a queue at capacity, a task blocked
    24-72 h, more than 3 pending proposals, an unresolved deviation, an open escalation, an
    unanswered violation.
    """
    from orchestrator.governance.health import check
    from orchestrator.workflow.gates import unanswered_violations

    report = check(state(ctx).workspace(), now=datetime.now(UTC), unanswered=unanswered_violations)
    if as_json:
        print_json(report.to_dict())
    else:
        for line in render_health(report):
            echo(line)
    raise typer.Exit(report.status.exit_code)


def render_health(report: HealthReport) -> list[str]:
    """``Health: RED`` and each reason under its colour with its fix, at most ``SHOWN`` per rule."""
    head = f"Health: {report.status.value.upper()} (at {report.checked_at})"
    if not report.details:
        return [f"{head}: every queue operational, no task blocked > 24 h, no unresolved deviation, "
                "every action audited."]  # fmt: skip
    lines, per_check = [f"{head}: {len(report.details)} reason(s)"], dict[str, int]()
    for reason in report.details:
        seen = per_check[reason.check] = per_check.get(reason.check, 0) + 1
        if seen <= SHOWN:
            lines.append(f"  {reason.colour.value:<7} {reason.text}")
            lines += [f"          fix: {reason.fix}"] if reason.fix else []
    lines += [
        f"  ... and {n - SHOWN} more {check} reason(s): `aios health --json` lists every one"
        for check, n in per_check.items()
        if n > SHOWN
    ]
    return lines


def _parse_since(text: str | None, now: datetime) -> datetime:
    """``--since``: a duration back from now (``24h``, ``3d``, ``90m``) or a date or time; default 24 h."""
    from orchestrator.errors import ConfigError
    from orchestrator.state.deviations import parse_time
    from orchestrator.state.sessions import parse_ttl

    if text is None:
        return now - parse_ttl("24h")
    try:
        return now - parse_ttl(text)
    except ValueError:
        pass
    try:
        return parse_time(text.strip()).astimezone(UTC)
    except ValueError:
        raise ConfigError(
            f"{text!r} is neither a duration nor a time",
            field="--since",
            fix="a duration back from now (`12h`, `3d`) or a time (`2026-12-06`, `2026-12-06T08:00:00Z`)",
        ) from None


def standup(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From when: a duration back (12h, 3d) or a date/time. Default 24h."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The morning standup: activity (audit trails), inbox to triage, running, waiting for a human."""
    from orchestrator.governance.routines import standup as make

    now = datetime.now(UTC)
    result = make(state(ctx).workspace(), since=_parse_since(since, now), now=now)
    if as_json:
        print_json(result.to_dict())
        return
    for line in render_standup(result):
        echo(line)


def _capped(rows: list[str], indent: str = "  ") -> list[str]:
    shown = [f"{indent}{row}" for row in rows[:SHOWN]]
    return shown + (
        [f"{indent}... and {len(rows) - SHOWN} more (--json lists every one)"] if len(rows) > SHOWN else []
    )


def _age(since: str | None, until: str) -> str:
    """How long ago ``since`` was at ``until`` (``30 h``, ``4.5 d``); ``?`` when unknown."""
    from orchestrator.governance.health import hours
    from orchestrator.state.deviations import parse_time

    return "?" if since is None else hours(parse_time(until) - parse_time(since))


def render_standup(s: Standup) -> list[str]:
    """Four short blocks: activity, inbox, running, waiting for a human; ids aligned in a column."""
    touched = f"{s.events} event(s) on {len(s.activity)} task(s), {len(s.governance)} governance log line(s)"
    lines = [f"Standup: {s.since} .. {s.until}", f"Activity: {touched}"]
    lines += _capped([
        f"{a.task:<16} {a.events:>3} event(s)  {' → '.join(a.moves) or 'notes only':<36} "
        f"by {', '.join(a.actors)}" + (f"  ({a.violations} violation(s))" if a.violations else "")
        for a in s.activity
    ])  # fmt: skip
    lines += _capped(s.governance, "  governance: ")
    triage = "  (`aios task triage ID --priority N`, `aios task approve ID`)" if s.inbox else ""
    lines.append(f"Inbox to triage: {len(s.inbox)}{triage}")
    lines += _capped([f"{t.id:<16} P{t.priority}  {t.queue:<10} {t.title}" for t in s.inbox])
    lines.append(f"Running: {len(s.running)}")
    lines += _capped([
        f"{t.id:<16} {t.status:<11} {t.queue:<10} for {_age(t.since, s.until):<7} {t.title}"
        for t in s.running
    ])  # fmt: skip
    lines.append(f"Waiting for a human: {len(s.waiting)}")
    for w in s.waiting[:SHOWN]:
        lines.append(f"  {w.kind:<12} {w.subject:<16} {_age(w.since, s.until):>6}  {w.text}")
        lines.append(f"  {'':<38}do: {w.fix}")
    if len(s.waiting) > SHOWN:
        lines.append(f"  ... and {len(s.waiting) - SHOWN} more (--json lists every one)")
    return lines


def weekly(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The weekly checklist: each item checked ([x], nothing to do) or open ([ ], with what to do)."""
    from orchestrator.governance.routines import weekly as make
    from orchestrator.workflow.gates import spec

    def spec_problems(ws: Workspace, task: TaskState) -> list[str]:
        result = spec(ws, task)
        return [] if result.ok else result.reasons

    result = make(state(ctx).workspace(), now=datetime.now(UTC), spec_check=spec_problems)
    if as_json:
        print_json(result.to_dict())
        return
    for line in render_weekly(result):
        echo(line)


def render_weekly(w: Weekly) -> list[str]:
    """The checklist by section: ``[x]`` checked, ``[ ]`` open with its details and what to do."""
    lines = [f"Weekly checklist: {w.since[:10]} .. {w.until[:10]}, {w.open} open of {len(w.items)}"]
    section = None
    for item in w.items:
        if item.section != section:
            section = item.section
            lines.append(section.replace("_", " "))
        lines.append(f"  [{' ' if not item.checked else 'x'}] {item.title:<48} {item.summary}")
        lines += _capped(item.details, "        ")
        lines += [f"        do: {item.todo}"] if item.todo else []
    return lines
