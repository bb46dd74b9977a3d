"""``aios task new|approve|triage|list|status|start|finish|block|stop|unblock|validate``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json, usage_error
from orchestrator.cli._views import RICH_ROWS, show_listing, show_task

if TYPE_CHECKING:
    from orchestrator.state.workspace import Workspace

app = typer.Typer(help="Create TaskCards and move tasks through their lifecycle.", no_args_is_help=True)

TaskId = Annotated[str, typer.Argument(help="Task id, e.g. TASK_DEV_0001.")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (recorded on the audit trail).")]


class _KeepsArgOrder(TyperCommand):
    """Remembers the raw arguments, so each ``--check`` can follow the ``--criterion`` it belongs to."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta["aios.args"] = list(args)
        return super().parse_args(ctx, args)


@app.command("new", cls=_KeepsArgOrder)
def new(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Option("--queue", help="research, data, dev, governance, ...")] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    criterion: Annotated[
        list[str] | None, typer.Option("--criterion", help="An acceptance criterion (repeat for more).")
    ] = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Command proving the criterion just before it.")
    ] = None,
    priority: Annotated[int, typer.Option("--priority", min=1, max=5, help="1 is the most urgent.")] = 3,
    role_mode: Annotated[str, typer.Option("--role-mode")] = "builder",
    persona: Annotated[list[str] | None, typer.Option("--persona", help="Reviewer persona (repeat).")] = None,
    path: Annotated[list[str] | None, typer.Option("--path", help="Path in scope (repeat).")] = None,
    target_branch: Annotated[
        str | None,
        typer.Option("--target-branch", help="Branch to merge into (default: the repository's default)."),
    ] = None,
    body: Annotated[str, typer.Option("--body", help="Markdown body.")] = "",
    from_file: Annotated[
        Path | None, typer.Option("--file", help="Register an existing TaskCard file instead.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a TaskCard to tasks/inbox/ and register the task; prints its id.

    Without flags on a terminal, opens a template in $EDITOR.
    """
    from orchestrator.governance import actions
    from orchestrator.state import taskcard

    ws, cli = state(ctx).workspace(), state(ctx)
    if from_file is not None:
        card, card_file = taskcard.load(from_file), from_file.resolve()
    else:
        card, card_file = _card_from_flags_or_editor(ctx, locals()), None
    task = actions.create_task(ws, card, actor=cli.who(), session=cli.session(), card_file=card_file)
    if as_json:
        print_json({"id": task.id, "status": task.status.value, "card": task.card})
    else:
        typer.echo(task.id)
        typer.echo(
            f"created {task.card} (inbox); a member approves it with `aios task approve {task.id}`", err=True
        )


def _card_from_flags_or_editor(ctx: typer.Context, opts: dict[str, Any]) -> Any:
    from orchestrator import _yaml
    from orchestrator.cli._editor import card_from_editor
    from orchestrator.state.taskcard import TaskCard, task_id

    if not (opts["queue"] or opts["title"] or opts["criterion"]) and sys.stdin.isatty():
        return card_from_editor(state(ctx).workspace())
    missing = [
        flag
        for flag, key in (("--queue", "queue"), ("--title", "title"), ("--criterion", "criterion"))
        if not opts[key]
    ]
    if missing:
        raise usage_error(ctx, f"missing {', '.join(missing)} (or run on a terminal to use $EDITOR)")
    try:
        criteria = pair_criteria(ctx.meta.get("aios.args", []), opts["criterion"], opts["check"] or [])
    except ValueError as exc:
        raise usage_error(ctx, str(exc)) from None
    data = {
        "id": task_id(opts["queue"], 0),  # replaced by the next free id of the queue
        "title": opts["title"],
        "queue": opts["queue"],
        "priority": opts["priority"],
        "role_mode": opts["role_mode"],
        "acceptance_criteria": criteria,
        "personas": opts["persona"] or [],
        "paths": opts["path"] or [],
        "target_branch": opts["target_branch"],
        "body": opts["body"],
    }
    return _yaml.validate(TaskCard, data, file="command line")


def pair_criteria(args: list[str], texts: list[str], checks: list[str]) -> list[dict[str, str]]:
    """Criteria in command-line order, each ``--check`` attached to the ``--criterion`` before it."""
    criteria: list[dict[str, str]] = []
    text_iter, check_iter = iter(texts), iter(checks)
    for arg in args:
        if arg == "--":
            break
        if arg == "--criterion" or arg.startswith("--criterion="):
            criteria.append({"id": f"AC{len(criteria) + 1}", "text": next(text_iter)})
        elif arg == "--check" or arg.startswith("--check="):
            if not criteria or "check" in criteria[-1]:
                raise ValueError("each --check must follow the --criterion it proves")
            criteria[-1]["check"] = next(check_iter)
    return criteria


def _move(ctx: typer.Context, tid: str, action: str, reason: str | None, as_json: bool) -> None:
    from orchestrator.governance import actions

    cli = state(ctx)
    task = actions.transition(
        cli.workspace(), tid, action, actor=cli.who(), session=cli.session(), reason=reason
    )
    before = task.events[-1].from_  # the status this transition left, read under the state lock
    assert before is not None
    if as_json:
        print_json({"id": task.id, "status": task.status.value, "from": before.value})
    else:
        typer.echo(f"{task.id}: {before.value} → {task.status.value}")


@app.command("approve")
def approve(ctx: typer.Context, task_id: TaskId, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """A human member approves the task to start (inbox → ready)."""
    _move(ctx, task_id, "approve", reason, as_json)


@app.command("start")
def start(ctx: typer.Context, task_id: TaskId, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """Start the task (ready → running); takes a slot in its queue."""
    _move(ctx, task_id, "start", reason, as_json)


@app.command("finish")
def finish(ctx: typer.Context, task_id: TaskId, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """Hand the task to human review (running/code_review → reviewing); releases its queue slot."""
    _move(ctx, task_id, "finish", reason, as_json)


@app.command("block")
def block(
    ctx: typer.Context,
    task_id: TaskId,
    reason: Annotated[str, typer.Option("--reason", help="Why it is blocked (required).")],
    as_json: JsonFlag = False,
) -> None:
    """Block the task (from any active status) until someone unblocks it."""
    _move(ctx, task_id, "block", reason, as_json)


@app.command("stop")
def stop(
    ctx: typer.Context,
    task_id: TaskId,
    reason: Annotated[str, typer.Option("--reason", help="Why it is stopped (required).")],
    as_json: JsonFlag = False,
) -> None:
    """Emergency-stop the task: blocked at once, its run stops at its next step; `unblock` lifts it."""
    from orchestrator.governance import actions

    cli = state(ctx)
    task = actions.stop(cli.workspace(), task_id, actor=cli.who(), session=cli.session(), reason=reason)
    before = task.events[-1].from_
    assert before is not None
    if as_json:
        print_json(
            {"id": task.id, "status": task.status.value, "from": before.value, "event": "emergency_stop"}
        )
    else:
        typer.echo(f"{task.id}: {before.value} → {task.status.value} (emergency stop)")


@app.command("unblock")
def unblock(ctx: typer.Context, task_id: TaskId, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """Return a blocked task to the status it was blocked from."""
    _move(ctx, task_id, "unblock", reason, as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include done tasks (reads every task file).")] = False,
    queue: Annotated[str | None, typer.Option("--queue")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    inbox: Annotated[
        bool,
        typer.Option("--inbox", help="Triage: only tasks still in the inbox, most urgent first."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List live tasks (or all with --all)."""
    if inbox and status not in (None, "inbox"):
        raise usage_error(ctx, f"--inbox lists inbox tasks, not {status}: give one of --inbox, --status")
    status = "inbox" if inbox else status
    rows = [
        r
        for r in _listing(state(ctx).workspace(), include_done=all_ or status == "done")
        if (queue is None or r["queue"] == queue) and (status is None or r["status"] == status)
    ]
    if inbox:
        rows.sort(key=lambda r: (r["priority"], r["id"]))
    show_listing(rows, as_json, rich_rows=_RICH_ROWS)


def _listing(ws: Workspace, *, include_done: bool) -> list[dict[str, Any]]:
    """The rows to list: the live ones from the index alone while it is as aios wrote it."""
    from orchestrator.state import peek

    rows = None if include_done else peek.live(ws)
    if rows is None:
        from orchestrator.state import tasks

        rows = tasks.listing(ws, include_done=include_done)
    return rows


#: ``_views.RICH_ROWS``, here so a test can lower it for this command.
_RICH_ROWS = RICH_ROWS


@app.command("triage")
def triage(
    ctx: typer.Context,
    task_id: TaskId,
    priority: Annotated[
        int | None, typer.Option("--priority", min=1, max=5, help="1 is the most urgent.")
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="Re-file it into this queue: it gets the next id there (printed)."),
    ] = None,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Set an inbox task's priority and/or queue; who may approve may triage.

    A new queue means a new id (ids embed their queue): the task, its TaskCard and its history move
    to it; the old id's trail ends with an event naming the new one, and `aios task status OLD`
    says where it went.
    """
    from orchestrator.governance import actions

    if priority is None and queue is None:
        raise usage_error(ctx, "give --priority, --queue, or both")
    cli = state(ctx)
    task = actions.triage(
        cli.workspace(),
        task_id,
        priority=priority,
        queue=queue,
        actor=cli.who(),
        session=cli.session(),
        reason=reason,
    )
    moved = {"refiled_from": task_id} if task.id != task_id else {}
    if as_json:
        print_json(
            {
                "id": task.id,
                "status": task.status.value,
                "queue": task.queue,
                "priority": task.priority,
                **moved,
            }
        )
    else:
        typer.echo(f"{task.id}: priority {task.priority} ({task.queue}, {task.status.value})")
        if moved:
            typer.echo(f"re-filed {task_id} as {task.id}; its card is {task.card}", err=True)


@app.command("status")
def status(ctx: typer.Context, task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Show a task: its fields, status and every event (or, for a re-filed id, where it went)."""
    from orchestrator.state import peek

    ws = state(ctx).workspace()
    data = peek.task(ws, task_id)  # unchanged since last shown: no YAML, no models
    if data is None:
        data = _read_task(ws, task_id)
        if data is None:
            return _show_refiled(ws, task_id, as_json)
    show_task(data, as_json)


def _read_task(ws: Workspace, task_id: str) -> dict[str, Any] | None:
    """The task as JSON, read and kept in the scan cache for the next look; None when re-filed."""
    from orchestrator.state import refiled, tasks
    from orchestrator.state.stores import task_exists

    if not task_exists(ws, task_id) and refiled.find(ws, task_id) is not None:
        return None
    return tasks.get(ws, task_id, keep=True).model_dump(mode="json", by_alias=True)


def _show_refiled(ws: Workspace, task_id: str, as_json: bool) -> None:
    from orchestrator.state import refiled

    record = refiled.find(ws, task_id)
    assert record is not None
    now_id = refiled.current_id(ws, task_id)
    data = {
        "id": record.old,
        "status": "refiled",
        "refiled_to": record.new,
        "current_id": now_id,
        "from_queue": record.from_queue,
        "to_queue": record.to_queue,
        "at": record.at,
        "by": record.by,
    }
    if as_json:
        print_json(data)
        return
    echo(f"{record.old}  re-filed as {record.new}  (queue {record.from_queue} → {record.to_queue})")
    echo(f"  at {record.at} by {record.by}{'; ' + record.reason if record.reason else ''}")
    echo(f"  `aios task status {now_id}` shows it")


@app.command("validate")
def validate(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None, typer.Argument(help="TaskCard files (default: every tasks/**/*.md).")
    ] = None,
) -> None:
    """Check TaskCards; exits 1 if any is broken (pre-commit runs this)."""
    from orchestrator.cli._validate import validate_cards

    problems = validate_cards(state(ctx), files or [])
    if problems:
        raise typer.Exit(1)
