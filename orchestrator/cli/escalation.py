"""``aios escalate`` and ``aios escalation list|answer``; the check every command starts with."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json
from orchestrator.cli._overdue import check_overdue as check_overdue  # where it was first

if TYPE_CHECKING:
    from orchestrator.governance.escalations import Routed

app = typer.Typer(help="Escalations: list them, answer one.", no_args_is_help=True)


class Kind(StrEnum):
    """The ``--type`` choices (``state.escalations.EscalationType``, kept here so help stays light)."""

    BLOCKED = "blocked"
    SPEC_CONFLICT = "spec-conflict"
    SECURITY = "security"
    AGENT_MISBEHAVIOR = "agent-misbehavior"


def register(root: typer.Typer) -> None:
    root.command("escalate")(escalate)
    root.add_typer(app, name="escalation")


def escalate(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(help="The task the problem is on, e.g. TASK_DEV_0001.")],
    kind: Annotated[Kind, typer.Option("--type", help="Which route of workflows/escalation.yaml.")],
    reason: Annotated[str, typer.Option("--reason", help="What is wrong (recorded on the audit trail).")],
    session_id: Annotated[
        str | None,
        typer.Option("--session-id", help="agent-misbehavior: the session its last step terminates."),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="agent-misbehavior: the agent whose live sessions it terminates."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Raise a problem on a task to the authority the escalation matrix names; prints who must answer."""
    from orchestrator.governance import escalations
    from orchestrator.state.escalations import EscalationType

    cli = state(ctx)
    routed = escalations.escalate(
        cli.workspace(),
        task_id,
        kind=EscalationType(kind.value),
        reason=reason,
        actor=cli.who(),
        session=cli.session(),
        session_id=session_id,
        agent_id=agent,
    )
    if as_json:
        print_json(_row(routed))
        return
    echo(f"{routed.escalation.id}: {escalations.describe(routed)}")


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only the open escalations.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Every escalation: its task, type, state, the level it is at and who must answer."""
    from orchestrator.governance import escalations

    rows = escalations.listing(state(ctx).workspace(), open_only=open_only)
    if as_json:
        print_json([_row(r) for r in rows])
        return
    if not rows:
        echo("No escalations.")
        return
    for r in rows:
        e = r.escalation
        now = escalations.describe(r) if e.state.value == "open" else (e.action_taken or e.note or "")
        echo(f"{e.id}  {e.task_id}  {e.type.value}  {e.state.value}  {now}")


@app.command("answer")
def answer(
    ctx: typer.Context,
    escalation_id: Annotated[str, typer.Argument(help="The escalation, e.g. ESC-0001.")],
    note: Annotated[str, typer.Option("--note", help="The answer (recorded on the audit trail).")],
    as_json: JsonFlag = False,
) -> None:
    """Answer and close an escalation (a member with at least its current step's level)."""
    from orchestrator.governance import escalations

    cli = state(ctx)
    done = escalations.answer(
        cli.workspace(), escalation_id, note=note, actor=cli.who(), session=cli.session()
    )
    if as_json:
        print_json({"id": done.id, "state": done.state.value, "answered_by": done.answered_by})
        return
    echo(f"{done.id}: answered by {done.answered_by}")


def _row(routed: Routed) -> dict[str, object]:
    e = routed.escalation
    level = routed.level
    return {
        "id": e.id,
        "task_id": e.task_id,
        "type": e.type.value,
        "state": e.state.value,
        "level": level.label if level is not None else None,
        "answerers": routed.answerers,
        "due_at": e.due_at,
        "reason": e.reason,
        "raised_by": e.raised_by,
        "answered_by": e.answered_by,
        "action_taken": e.action_taken,
    }
