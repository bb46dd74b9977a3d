"""``aios metrics`` and ``aios maintenance ...``: the operating model's figures and monthly routines."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json

if TYPE_CHECKING:
    from orchestrator.governance.metrics import Metrics

maintenance_app = typer.Typer(
    help="Monthly maintenance: archive finished tasks' audit trails.", no_args_is_help=True
)

_BARS = "▁▂▃▄▅▆▇█"


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics)
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
