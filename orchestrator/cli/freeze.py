"""``aios freeze`` and ``aios unfreeze``: the project owner stops (and restarts) everything at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json

if TYPE_CHECKING:
    from orchestrator.state.freeze import FreezeResult


def register(app: typer.Typer) -> None:
    app.command("freeze")(freeze)
    app.command("unfreeze")(unfreeze)


def freeze(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the freeze record in ops/freeze/).")],
    as_json: JsonFlag = False,
) -> None:
    """Freeze the system: lock every queue, stop every running workflow at its next step."""
    from orchestrator.governance import actions

    cli = state(ctx)
    result = actions.freeze(cli.workspace(), actor=cli.who(), session=cli.session(), reason=reason)
    if as_json:
        print_json(_data(result, frozen=True))
        return
    f = result.freeze
    if not result.changed:
        echo(f"already frozen since {f.at} by {f.by}; the record is {f.record}")
        return
    echo(
        f"frozen: every queue is locked; running workflows stop at their next step; the record is {f.record}"
    )
    echo("the project owner lifts it with `aios unfreeze`")


def unfreeze(
    ctx: typer.Context,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (appended to the freeze record).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Lift the freeze: unlock the queues it locked; each run resumes with `aios review run ID`."""
    from orchestrator.governance import actions

    cli = state(ctx)
    who = cli.who()
    result = actions.unfreeze(cli.workspace(), actor=who, session=cli.session(), reason=reason)
    if as_json:
        lifted = {"frozen": False, "changed": False} if result is None else _data(result, frozen=False)
        print_json({**lifted, "lifted_by": who if result else None})
        return
    if result is None:
        echo("not frozen: nothing to lift")
        return
    unlocked = ", ".join(result.queues) or "none (they were locked before the freeze)"
    echo(f"unfrozen: queues unlocked: {unlocked}; the record is {result.freeze.record}")
    echo("stopped runs resume with `aios review run <TASK_ID>`")


def _data(result: FreezeResult, *, frozen: bool) -> dict[str, object]:
    f = result.freeze
    return {
        "frozen": frozen,
        "changed": result.changed,
        "by": f.by,
        "at": f.at,
        "reason": f.reason,
        "record": f.record,
        "queues": result.queues,
    }
