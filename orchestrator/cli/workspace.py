"""``aios init`` and ``aios state check|rebuild|backup|restore|export|migrate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, print_json

state_app = typer.Typer(help="Check and repair the workspace's state files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(state_app, name="state")


def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="A folder inside the git repository (default: here).")
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Also rebuild what can be derived (the task index) and list what could not be (exit 1).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Make this git repository an aios workspace (state/, ops/, tasks/inbox/). Safe to run twice."""
    from orchestrator.state.setup import damage
    from orchestrator.state.setup import init as init_workspace

    cli = state(ctx)
    where = path or cli.root or Path.cwd()
    owner, email = cli.owner(where)
    if repair:
        _repair(where, owner=owner, email=email, as_json=as_json)
        return
    ws, created = init_workspace(where, owner=owner, email=email)
    problems = damage(ws)
    if problems:
        from orchestrator.errors import StateError

        listed = "\n  ".join(p.render().replace("\n", "\n    ") for p in problems)
        raise StateError(
            f"the workspace's state is damaged{' (created: ' + ', '.join(created) + ')' if created else ''}:"
            f"\n  {listed}",
            fix="run `aios init --repair` to rebuild what can be derived and list the rest",
        )
    if as_json:
        print_json({"root": str(ws.root), "created": created})
    elif created:
        typer.echo(f"Initialised an aios workspace in {ws.root}:")
        typer.echo("".join(f"  created {item}\n" for item in created), nl=False)
        typer.echo(
            "Commit state/, tasks/ and ops/: they are the project's record. "
            ".gitignore keeps out what is local (locks, run checkpoints, task worktrees)."
        )
        typer.echo("Next: aios task new --queue dev --title '...' --criterion '...'")
    else:
        typer.echo(f"{ws.root} is already an aios workspace; nothing changed.")


def _repair(where: Path, *, owner: str, email: str | None, as_json: bool) -> None:
    from orchestrator.cli._output import safe
    from orchestrator.sandbox import git
    from orchestrator.state.setup import repair
    from orchestrator.state.workspace import Workspace

    ws = Workspace(git.toplevel(where).resolve())
    created, left = repair(ws, owner=owner, email=email)
    if as_json:
        print_json({"root": str(ws.root), "created": created, "not_repaired": [p.render() for p in left]})
    else:
        typer.echo("".join(f"  repaired: {item}\n" for item in created) or "  nothing to rebuild\n", nl=False)
        for problem in left:
            typer.echo(f"not repaired: {safe(problem.render(), keep=chr(10))}", err=True)
        if not left:
            typer.echo(f"{ws.root}: every state file is valid.")
    if left:
        raise typer.Exit(1)


@state_app.command("backup")
def backup(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Copy state/ to backups/state-<date>[-n]/ and check every copy by reading it back."""
    from orchestrator.state.backup import backup as take

    ws = state(ctx).workspace()
    made = take(ws)
    if as_json:
        print_json({"backup": ws.rel(made.path), "files": sorted(made.files)})
    else:
        typer.echo(
            f"Backed up {len(made.files)} state file(s) to {ws.rel(made.path)} (each read back and checked)."
        )


@state_app.command("restore")
def restore(
    ctx: typer.Context,
    backup: Annotated[
        Path, typer.Argument(help="A folder `aios state backup` wrote, e.g. backups/state-2026-12-06.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Check a backup, keep the current state as a new backup, then restore the backup byte for byte."""
    from orchestrator.state.backup import restore as put_back

    ws = state(ctx).workspace()
    done = put_back(ws, backup if backup.is_absolute() else ws.root / backup)
    if as_json:
        print_json(
            {
                "restored": ws.rel(done.backup.path),
                "kept": ws.rel(done.kept.path),
                "files": sorted(done.backup.files),
            }
        )
    else:
        typer.echo(
            f"Restored {len(done.backup.files)} state file(s) from {ws.rel(done.backup.path)}; "
            f"the state before it is kept in {ws.rel(done.kept.path)}."
        )


@state_app.command("check")
def check(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Validate every state file and the workspace's own personas, prompts and workflows."""
    from orchestrator.state.check import check_report
    from orchestrator.workflow.overrides import check_overrides

    ws = state(ctx).workspace()
    report = check_report(ws)
    problems = report.problems + check_overrides(ws)
    legacy = report.legacy_trails
    if as_json:
        print_json({"ok": not problems, "problems": [p.render() for p in problems], "legacy_trails": legacy})
    else:
        for problem in problems:
            typer.echo(f"error: {problem.render()}", err=True)
        if legacy:
            typer.echo(
                f"note: {len(legacy)} audit trail(s) hold {sum(legacy.values())} line(s) written before the "
                "hash chain: unchained (legacy), so edits to them cannot be detected; new lines are chained."
            )
        if not problems:
            typer.echo("All state files are valid.")
    if problems:
        raise typer.Exit(1)


@state_app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Rebuild state/tasks.yaml from state/tasks/*.yaml; a queue lock is never lifted (unreadable: kept)."""
    from orchestrator.cli._output import safe
    from orchestrator.state.check import rebuild as rebuild_index

    ws = state(ctx).workspace()
    result = rebuild_index(ws)
    typer.echo(f"Rebuilt {ws.rel(ws.index_file)}: {len(result.index.tasks)} live task(s).")
    history = ws.rel(ws.queue_locks_file)
    for name, why in sorted(result.salvaged.items()):
        typer.echo(
            f"warning: queue {name} kept locked: the old index could not be read, and {safe(why)}\n"
            f"  fix: check why it was locked ({history}), then `aios queue unlock {name}`",
            err=True,
        )


@state_app.command("export")
def export(
    ctx: typer.Context,
    to: Annotated[
        Path | None, typer.Option("--to", help="The folder to write (default: export/ in the workspace).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the state as YAML files (state/tasks/*.yaml, tasks.yaml, agents.yaml, sessions.yaml, trails)."""
    from orchestrator.state.migrate import export as write_view

    ws = state(ctx).workspace()
    folder = (to if to is None or to.is_absolute() else Path.cwd() / to) or ws.root / "export"
    done = write_view(ws, folder)
    if as_json:
        print_json({"folder": str(folder), "tasks": done.tasks})
    else:
        typer.echo(
            f"Wrote {done.tasks} task(s) with the index, agents, sessions and audit trails to {folder}."
        )


@state_app.command("migrate")
def migrate(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="postgresql://USER@HOST:PORT/DATABASE, or yaml.")],
    as_json: JsonFlag = False,
) -> None:
    """Move the workspace's state into PostgreSQL, or back into the YAML files, losing nothing."""
    from orchestrator.cli._output import safe
    from orchestrator.state import migrate as move

    ws = state(ctx).workspace()
    done = move.to_yaml(ws) if to.strip().lower() == "yaml" else move.to_postgres(ws, to)
    if as_json:
        print_json({"tasks": done.tasks, "to": done.where, "kept": done.kept, "next": done.setting})
        return
    target = "the YAML files" if to.strip().lower() == "yaml" else f"PostgreSQL (workspace {done.where})"
    typer.echo(f"Moved {done.tasks} task(s) with their events, queues, agents and sessions to {target}.")
    if done.kept:
        typer.echo(f"The YAML files are kept in {done.kept}/ (no command reads them).")
    typer.echo(f"next: {safe(done.setting)}")
