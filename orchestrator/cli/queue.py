"""``aios queue status|lock|unlock``."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, console, echo, print_json, safe, usage_error

app = typer.Typer(help="Queue limits and emergency locks.", no_args_is_help=True)

Names = Annotated[list[str] | None, typer.Argument(help="Queue names.")]
AllFlag = Annotated[bool, typer.Option("--all", help="Every queue (a system freeze).")]


@app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each queue's limit, what is running and whether it is locked."""
    from orchestrator.state import queues

    rows = queues.status(state(ctx).workspace())
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    frozen = rows[0]["frozen"] if rows else None
    if isinstance(frozen, dict):
        why = f" ({frozen['reason']})" if frozen.get("reason") else ""
        echo(f"FROZEN since {frozen['at']} by {frozen['by']}{why}; record {frozen['record']}")
        echo("  the project owner lifts it with `aios unfreeze`")
    table = Table("queue", "running", "limit", "lock", "tasks", box=None, pad_edge=False)
    for r in rows:
        by = r["locked_by"] or "a hand edit of state/tasks.yaml"
        lock = f"{r['lock']} by {by}" if r["locked"] else "-"
        table.add_row(
            safe(r["queue"], markup=True),
            str(len(r["running"])),  # type: ignore[arg-type]
            str(r["max_concurrent"]),
            safe(lock, markup=True),
            safe(", ".join(r["running"]), markup=True),  # type: ignore[arg-type]
        )
    console().print(table)


@app.command("lock")
def lock(
    ctx: typer.Context,
    names: Names = None,
    all_: AllFlag = False,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Lock queues with SYSTEM_LOCK: they start nothing until unlocked."""
    _set(ctx, names, all_, locked=True, reason=reason)


@app.command("unlock")
def unlock(ctx: typer.Context, names: Names = None, all_: AllFlag = False) -> None:
    """Remove the lock from queues."""
    _set(ctx, names, all_, locked=False, reason=None)


def _set(
    ctx: typer.Context, names: list[str] | None, all_: bool, *, locked: bool, reason: str | None
) -> None:
    from orchestrator.governance import actions

    ws = state(ctx).workspace()
    if all_ == bool(names):
        raise usage_error(ctx, "name the queues, or pass --all (not both)")
    targets = list(ws.project.queues) if all_ else list(names or [])
    cli = state(ctx)
    changed = actions.set_lock(
        ws, targets, locked=locked, actor=cli.who(), session=cli.session(), reason=reason
    )
    verb = "locked" if locked else "unlocked"
    for name in targets:
        typer.echo(f"{name}: {verb}" if name in changed else f"{name}: already {verb}")
