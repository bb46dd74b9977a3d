"""``aios decision new|list|show``, ``aios proposal new|list|accept|reject``, ``aios deviation
new|list|resolve``: the governance records in ``ops/`` (dated Markdown with YAML front matter)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, console, echo, print_json, safe

decision_app = typer.Typer(help="The decision log (ops/decision-log/).", no_args_is_help=True)
proposal_app = typer.Typer(help="Spec change requests (ops/proposals/).", no_args_is_help=True)
deviation_app = typer.Typer(help="Overrides of the policy, with scope and expiry (ops/deviations/).",
                            no_args_is_help=True)  # fmt: skip

RecordId = Annotated[str, typer.Argument(help="The record's id, e.g. DEC-0001.")]
Title = Annotated[str, typer.Option("--title", help="One line saying what it is.")]
Body = Annotated[str, typer.Option("--body", help="Markdown text: context, the decision, consequences.")]
Tasks = Annotated[list[str] | None, typer.Option("--task", help="A task it concerns (repeat).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the record and the governance log).")]


def register(app: typer.Typer) -> None:
    app.add_typer(decision_app, name="decision")
    app.add_typer(proposal_app, name="proposal")
    app.add_typer(deviation_app, name="deviation")


def _table(rows: list[dict[str, Any]], columns: list[str], empty: str) -> None:
    if not rows:
        typer.echo(empty)
        return
    from rich.table import Table

    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(safe(", ".join(v) if isinstance(v := row[c], list) else v or "", markup=True)
                        for c in columns))  # fmt: skip
    console().print(table)


# ---- decisions ----


@decision_app.command("new")
def decision_new(
    ctx: typer.Context, title: Title, body: Body = "", task: Tasks = None, as_json: JsonFlag = False
) -> None:
    """Record a decision (L2 lead or higher); each --task gets a note linking it."""
    from orchestrator.governance import decisions

    cli = state(ctx)
    made = decisions.record(cli.workspace(), title=title, body=body, task_ids=task, actor=cli.who(),
                            session=cli.session())  # fmt: skip
    _created(made, as_json)


@decision_app.command("list")
def decision_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every decision, oldest first."""
    from orchestrator.state import decisions

    rows = [_row(d) for d in decisions.all_decisions(state(ctx).workspace())]
    _list(rows, ["id", "at", "by", "title", "tasks"], "No decisions.", as_json)


@decision_app.command("show")
def decision_show(ctx: typer.Context, record_id: RecordId, as_json: JsonFlag = False) -> None:
    """One decision, as its file holds it."""
    from orchestrator.state import _frontmatter, decisions

    found = decisions.get(state(ctx).workspace(), record_id)
    if as_json:
        print_json(found.model_dump(mode="json"))
    else:
        echo(_frontmatter.render(found), keep="\n")


# ---- proposals ----


@proposal_app.command("new")
def proposal_new(
    ctx: typer.Context,
    title: Title,
    body: Body = "",
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="The queue whose specs it changes (governance: an L1 member decides)."),
    ] = None,  # fmt: skip
    spec: Annotated[list[str] | None, typer.Option("--spec", help="A spec file it changes (repeat).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a spec change request, pending until a member with the authority decides it."""
    from orchestrator.governance import decisions

    cli = state(ctx)
    who, session = cli.who(), cli.session()
    made = decisions.propose(
        cli.workspace(), title=title, body=body, queue=queue, specs=spec, actor=who, session=session
    )
    _created(made, as_json)


@proposal_app.command("list")
def proposal_list(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option("--pending", help="Only those waiting for a decision.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Every proposal, oldest first."""
    from orchestrator.state import proposals

    found = proposals.all_proposals(state(ctx).workspace())
    rows = [_row(p) for p in found if not pending or p.status is proposals.ProposalStatus.PENDING]
    _list(rows, ["id", "at", "by", "status", "queue", "title"], "No proposals.", as_json)


@proposal_app.command("accept")
def proposal_accept(
    ctx: typer.Context, record_id: RecordId, reason: Reason, as_json: JsonFlag = False
) -> None:
    """Accept a pending proposal (L2 lead; L1 for the governance queue)."""
    _settle(ctx, record_id, True, reason, as_json)


@proposal_app.command("reject")
def proposal_reject(
    ctx: typer.Context, record_id: RecordId, reason: Reason, as_json: JsonFlag = False
) -> None:
    """Reject a pending proposal (L2 lead; L1 for the governance queue)."""
    _settle(ctx, record_id, False, reason, as_json)


def _settle(ctx: typer.Context, record_id: str, accept: bool, reason: str, as_json: bool) -> None:
    from orchestrator.governance import decisions

    cli = state(ctx)
    done = decisions.settle(cli.workspace(), record_id, accept=accept, reason=reason, actor=cli.who(),
                            session=cli.session())  # fmt: skip
    if as_json:
        print_json(_row(done))
    else:
        echo(f"{done.id}: {done.status.value} by {done.decided_by}")


# ---- deviations ----


@deviation_app.command("new")
def deviation_new(
    ctx: typer.Context,
    reason: Reason,
    expires: Annotated[
        str, typer.Option("--expires", help="A duration (12h, 7d, 2w) or a time (2026-12-31).")
    ],
    task: Tasks = None,
    path: Annotated[list[str] | None, typer.Option("--path", help="A path it covers (repeat).")] = None,
    body: Body = "",
    as_json: JsonFlag = False,
) -> None:
    """Declare an override (L2 lead; L1 for governance-queue tasks), scoped to --task and --path."""
    from orchestrator.governance import deviations

    cli = state(ctx)
    made = deviations.declare(cli.workspace(), reason=reason, expires=expires, task_ids=task, paths=path,
                              body=body, actor=cli.who(), session=cli.session())  # fmt: skip
    _created(made, as_json)


@deviation_app.command("list")
def deviation_list(
    ctx: typer.Context,
    open_: Annotated[bool, typer.Option("--open", help="Only unresolved ones (open or expired).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Every deviation, oldest first, with its state: open, expired (unresolved) or resolved."""
    from orchestrator.state import deviations

    found = deviations.all_deviations(state(ctx).workspace())
    rows = [_row(d) | {"state": d.state().value} for d in found if not open_ or d.resolved_by is None]
    _list(rows, ["id", "state", "expires_at", "by", "tasks", "paths", "reason"], "No deviations.", as_json)


@deviation_app.command("resolve")
def deviation_resolve(
    ctx: typer.Context, record_id: RecordId, reason: Reason, as_json: JsonFlag = False
) -> None:
    """Resolve a deviation: it covers nothing any more."""
    from orchestrator.governance import deviations

    cli = state(ctx)
    done = deviations.resolve(
        cli.workspace(), record_id, resolution=reason, actor=cli.who(), session=cli.session()
    )
    if as_json:
        print_json(_row(done) | {"state": done.state().value})
    else:
        echo(f"{done.id}: resolved by {done.resolved_by}")


# ---- shared ----


def _row(record: Any) -> dict[str, Any]:
    """A record's front matter as a JSON row (its keys are the file's keys, in the file's order)."""
    return dict(record.model_dump(mode="json", exclude={"body"}))


def _list(rows: list[dict[str, Any]], columns: list[str], empty: str, as_json: bool) -> None:
    if as_json:
        print_json(rows)
    else:
        _table(rows, columns, empty)


def _created(record: Any, as_json: bool) -> None:
    if as_json:
        print_json(_row(record))
    else:
        typer.echo(record.id)
