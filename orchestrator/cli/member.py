"""``aios member add|list|remove``: the project's members and their authority levels."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, print_json, safe

if TYPE_CHECKING:
    from orchestrator.governance.members import Change
    from orchestrator.state.project import Member, Project

app = typer.Typer(
    help="The project's members and their roles (owner L0, platform L1, lead L2, operator L3).",
    no_args_is_help=True,
)


class RoleName(StrEnum):
    """The roles of ``state.project.ROLES``, for the option's choices (a test keeps them equal).

    Spelt out here so ``aios --help`` does not import pydantic.
    """

    owner = "owner"
    platform = "platform"
    lead = "lead"
    operator = "operator"


Name = Annotated[str, typer.Argument(help="The member's name: what they pass as --actor.")]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    role: Annotated[
        RoleName, typer.Option("--role", help="owner (L0), platform (L1), lead (L2) or operator (L3).")
    ],
    email: Annotated[
        str | None,
        typer.Option("--email", help="Their git user.email: identifies them when no --actor is given."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a member, or change an existing member's role (and email, if given). Owners (L0) only.

    The last owner cannot be demoted: add another owner first.
    """
    from orchestrator.governance import members

    cli = state(ctx)
    change = members.add(
        cli.workspace(), name, role.value, actor=cli.who(), email=email, session=cli.session()
    )
    _report(ctx, change, as_json)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Name,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (recorded on the governance log).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a member. Owners (L0) only; the last owner cannot be removed."""
    from orchestrator.governance import members

    cli = state(ctx)
    change = members.remove(cli.workspace(), name, actor=cli.who(), reason=reason, session=cli.session())
    _report(ctx, change, as_json)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every member with their role, level (L0 = most authority) and git email."""
    ws = state(ctx).workspace()
    project = ws.project
    if as_json:
        print_json([_row(m) for m in project.members])
    else:
        _table([_row(m) for m in project.members])
    _note_old_schema(ws.rel(ws.project_file), project)


def _row(member: Member) -> dict[str, str | None]:
    return {"name": member.name, "role": member.role, "level": member.level.label, "email": member.email}


def _table(rows: list[dict[str, str | None]]) -> None:
    cells = [["name", "role", "level", "email"]]
    cells += [[safe(r["name"]), str(r["role"]), str(r["level"]), safe(r["email"] or "-")] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    for row in cells:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _note_old_schema(rel: str, project: Project) -> None:
    if project.read_version != 2:
        typer.echo(
            f"note: {rel} is schema_version {project.read_version}, read as version 2; "
            "the next `aios member add` or `remove` rewrites it as version 2",
            err=True,
        )


def _report(ctx: typer.Context, change: Change, as_json: bool) -> None:
    if as_json:
        print_json({"change": change.kind, **_row(change.member), "migrated": change.migrated})
        return
    member, before = change.member, change.before
    shown = f"{safe(member.name)}: {member.role} ({member.level.label})"
    if change.kind == "changed" and before is not None:
        was = f"{before.role} ({before.level.label})"
        typer.echo(f"{shown}, was {was}" + (f"; email {safe(member.email)}" if member.email else ""))
    else:
        typer.echo(f"{change.kind} {shown}" + (f", email {safe(member.email)}" if member.email else ""))
    if change.migrated:
        ws = state(ctx).workspace()
        typer.echo(f"{ws.rel(ws.project_file)} rewritten as schema_version 2", err=True)
