"""``aios worker`` (take ready tasks and run their reviews) and ``aios worker release``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo
from orchestrator.cli.review import BaseUrl, ModelOpt, NoSandbox, Reviewer, _progress_for
from orchestrator.redact import redact_data
from orchestrator.workflow.modes import BuilderMode

if TYPE_CHECKING:
    from orchestrator.workflow.worker import Outcome

app = typer.Typer(
    help="Take ready tasks from the shared queues and run their reviews (never approves or merges).",
    invoke_without_command=True,
)


@app.callback()
def worker(
    ctx: typer.Context,
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-Q", help="A queue to take tasks from (repeat); default all."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Take one task if one is free now, then exit.")
    ] = False,
    max_tasks: Annotated[int | None, typer.Option("--max-tasks", min=1, help="Exit after N tasks.")] = None,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between looks when idle.")] = 5.0,
    exit_when_idle: Annotated[
        bool,
        typer.Option("--exit-when-idle", help="Exit when no task is ready in its queues (or all is frozen)."),
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="The worker's name on trails (default w<pid>).")
    ] = None,
    builder: Annotated[
        BuilderMode | None,
        typer.Option("--builder", help="agent (default) builds; external reviews what was committed."),
    ] = None,
    reviewer: Reviewer = None,
    model: ModelOpt = None,
    base_url: BaseUrl = None,
    no_sandbox: NoSandbox = False,
    as_json: JsonFlag = False,
) -> None:
    """Claim ready tasks (as `aios task start` does) and run their reviews (as `aios review run` does).

    Acts as the member who starts it (never an agent). SIGTERM or Ctrl-C interrupt the review in
    progress and hand its task back: the next worker resumes it from its checkpoint. With --json,
    one JSON object per task on stdout.
    """
    if ctx.invoked_subcommand is not None:
        return
    from orchestrator.workflow.options import RunOptions
    from orchestrator.workflow.worker import Worker, WorkerOptions, handling_signals

    cli = state(ctx)
    options = WorkerOptions(
        queues=tuple(queue or ()),
        max_tasks=1 if once else max_tasks,
        poll=poll,
        exit_when_idle=exit_when_idle,
        once=once,
        run=RunOptions(
            builder_mode=builder,
            reviewer_mode=reviewer,
            model=model,
            base_url=base_url,
            sandbox=not no_sandbox,
        ),
    )
    ws = cli.workspace()
    found = Worker(
        ws, actor=cli.who(), options=options, name=name, session=cli.session(), progress=_progress_for(ctx)
    )
    with handling_signals(found):
        for outcome in found.run():
            _show(outcome, as_json)


@app.command("release")
def release(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(help="The task a worker that is gone still holds.")],
    reason: Annotated[str, typer.Option("--reason", help="Why its worker is gone (kept on the trail).")],
) -> None:
    """Hand back a task whose worker is gone (on another machine): the next worker resumes its run."""
    from orchestrator.workflow.worker import release as hand_back

    cli = state(ctx)
    held = hand_back(cli.workspace(), task_id, actor=cli.who(), reason=reason, session=cli.session())
    echo(f"{task_id}: handed back for worker {held.worker} (pid {held.pid} on {held.host})")


def _show(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        status = outcome.status.model_dump(mode="json") if outcome.status else None
        data = {"task": outcome.task, "adopted": outcome.adopted, "status": status, "error": outcome.error}
        # One line per task (JSON Lines): a long-running worker's stdout is read as it goes.
        sys.stdout.write(json.dumps(redact_data(data)) + "\n")
        sys.stdout.flush()
        return
    took = "adopted" if outcome.adopted else "took"
    if outcome.status is None:
        echo(f"{took} {outcome.task}: {outcome.error}")
        return
    found = outcome.status
    waiting = found.waiting_for or ("nothing: merged" if found.merged else "nothing")
    where = f"{found.status}, round {found.round}, verdict {found.verdict}, waiting for {waiting}"
    echo(f"{took} {outcome.task}: {where}")
