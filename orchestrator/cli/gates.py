"""``aios gate check`` and ``aios policy check``: reports that exit 1 when something fails."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json

gate_app = typer.Typer(help="Check a task against the gates (schema, spec, review, governance).",
                       no_args_is_help=True)  # fmt: skip
policy_app = typer.Typer(help="Check the whole workspace against the policy.", no_args_is_help=True)


class GateChoice(StrEnum):
    ALL = "all"
    SCHEMA = "schema"
    SPEC = "spec"
    REVIEW = "review"
    GOVERNANCE = "governance"


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
    app.add_typer(policy_app, name="policy")


@gate_app.command("check")
def gate_check(
    ctx: typer.Context,
    gate: Annotated[GateChoice, typer.Option("--gate", help="The gate to check, or all.")] = GateChoice.ALL,
    task_id: Annotated[
        list[str] | None, typer.Option("--task-id", help="The task (repeat; default: every task).")
    ] = None,
    approver: Annotated[
        str | None,
        typer.Option("--approver", help="Governance: check this member's approval (default: who merged it)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print each gate's result (pass/fail and why); exits 1 when one fails."""
    from orchestrator.state.stores import task_ids
    from orchestrator.workflow import gates

    ws = state(ctx).workspace()
    chosen = list(gates.Gate) if gate is GateChoice.ALL else [gates.Gate(gate.value)]
    ids = task_id or task_ids(ws)
    reports = [gates.check(ws, tid, chosen, approver=approver) for tid in ids]
    if as_json:
        print_json({"ok": all(r.ok for r in reports), "tasks": [r.model_dump(mode="json") for r in reports]})
    else:
        for report in reports:
            for result in report.gates:
                mark = "pass" if result.ok else "FAIL"
                for reason in result.reasons:
                    echo(f"{mark}  {report.task}  {result.gate.value:<10}  {reason}")
        if not reports:
            typer.echo("No tasks.")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@policy_app.command("check")
def policy_check(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Check done tasks' trails too.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Every TaskCard, state file and record valid; no governance violation unanswered. Exits 1 if not."""
    from orchestrator.workflow.gates import policy

    problems = policy(state(ctx).workspace(), all_tasks=all_)
    if as_json:
        print_json({"ok": not problems, "problems": [p.render() for p in problems]})
    else:
        for problem in problems:
            typer.echo(f"error: {problem.render()}", err=True)
        if not problems:
            typer.echo("Policy check passed: cards, state and records are valid; no violation is unanswered.")
    if problems:
        raise typer.Exit(1)
