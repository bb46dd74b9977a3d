"""``aios review run|submit|status|show|approve|reject|dismiss``: the review loop and its human checkpoint."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from orchestrator.cli._context import state
from orchestrator.cli._errors import BLOCKED, NEEDS_REVISION, OK
from orchestrator.cli._output import JsonFlag, echo, print_json, safe
from orchestrator.cli._views import show_run
from orchestrator.workflow.modes import BuilderMode, ReviewerMode

if TYPE_CHECKING:
    from orchestrator.governance.deviations import Override
    from orchestrator.workflow.options import RunOptions
    from orchestrator.workflow.status import RunStatus

RUN_EXIT_CODES = (
    "Exit codes: 0 APPROVED (waiting for a human, or merged); 3 NEEDS_REVISION, waiting for an "
    "external builder to commit and submit again; 4 BLOCKED or escalated to a human; 1 refused or "
    "a user error (with --json, the error is JSON on stdout); 2 usage; 70 internal error."
)

app = typer.Typer(
    help="Run the builder/reviewer loop and decide at the human checkpoint.", no_args_is_help=True
)

TaskId = Annotated[str, typer.Argument(help="Task id, e.g. TASK_DEV_0001.")]


ModelOpt = Annotated[str | None, typer.Option("--model", help="Model for every role, or role=model[,...].")]
BaseUrl = Annotated[
    str | None, typer.Option("--base-url", envvar="AIOS_BASE_URL", help="OpenAI-compatible server.")
]
Record = Annotated[
    Path | None, typer.Option("--record", help="Write every model request/response to this JSONL.")
]
NoSandbox = Annotated[bool, typer.Option("--no-sandbox", help="Run commands without bubblewrap (unsafe).")]
Reviewer = Annotated[
    ReviewerMode | None,
    typer.Option("--reviewer", help="model (default): evidence + personas; static: evidence only."),
]


@app.command("run", epilog=RUN_EXIT_CODES)
def run(
    ctx: typer.Context,
    task_id: TaskId,
    builder: Annotated[
        BuilderMode | None,
        typer.Option("--builder", help="agent (default) builds; external reviews the branch."),
    ] = None,
    reviewer: Reviewer = None,
    model: ModelOpt = None,
    base_url: BaseUrl = None,
    record: Record = None,
    no_sandbox: NoSandbox = False,
    as_json: JsonFlag = False,
) -> None:
    """Run the task's review loop to the next human checkpoint (resuming unfinished work)."""
    _run(ctx, task_id, builder, reviewer, model, base_url, record, no_sandbox, as_json)


@app.command("submit", epilog=RUN_EXIT_CODES)
def submit(
    ctx: typer.Context,
    task_id: TaskId,
    reviewer: Reviewer = None,
    model: ModelOpt = None,
    base_url: BaseUrl = None,
    record: Record = None,
    no_sandbox: NoSandbox = False,
    as_json: JsonFlag = False,
) -> None:
    """Submit what was committed on branch task/<ID> for review (a person or another agent built it)."""
    _run(ctx, task_id, "external", reviewer, model, base_url, record, no_sandbox, as_json)


def _run(
    ctx: typer.Context,
    tid: str,
    builder: BuilderMode | None,
    reviewer: ReviewerMode | None,
    model: str | None,
    base_url: str | None,
    record: Path | None,
    no_sandbox: bool,
    as_json: bool,
) -> None:
    from orchestrator.workflow import runs
    from orchestrator.workflow.options import RunOptions

    ws = state(ctx).workspace()
    options = RunOptions(
        builder_mode=builder,
        reviewer_mode=reviewer,
        model=model,
        base_url=base_url,
        record=record,
        sandbox=not no_sandbox,
    )
    cli = state(ctx)
    result = runs.run(ws, tid, options, actor=cli.who(), session=cli.session(), progress=_progress_for(ctx))
    _show(result, as_json)
    if result.waiting_for == "human_review" and not as_json and sys.stdin.isatty():
        result = _ask_human(ctx, tid, options) or result
    raise typer.Exit(exit_code(result))


def exit_code(result: RunStatus) -> int:
    """Where a run stopped, as the exit code a CI gates on (``RUN_EXIT_CODES``)."""
    if result.merged or result.waiting_for == "human_review":
        return OK  # APPROVED: a human decides, or decided and it is merged
    if result.waiting_for == "builder":
        return NEEDS_REVISION  # an external builder (or a human's rejection) must revise the branch
    return BLOCKED  # escalated to a human: blocked, or the review rounds are used up


def _ask_human(ctx: typer.Context, tid: str, options: RunOptions) -> RunStatus | None:
    answer = typer.prompt("Approve the merge? [a]pprove / [r]eject / [l]ater", default="l").strip().lower()
    if answer.startswith("a"):
        return _answer(ctx, tid, "approve", None, False, options)
    if answer.startswith("r"):
        feedback = typer.prompt("Feedback for the builder")
        return _answer(ctx, tid, "reject", feedback, False, options)
    return None


@app.command("status")
def status(ctx: typer.Context, task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Where the task's run stands."""
    from orchestrator.workflow import peek

    ws = state(ctx).workspace()
    data = peek.status(ws, task_id)  # from the checkpoint's row, without the graph stack
    if data is None:
        from orchestrator.workflow import runs

        data = runs.status(ws, task_id).model_dump(mode="json")
    show_run(data, as_json)


@app.command("show")
def show(ctx: typer.Context, task_id: TaskId) -> None:
    """The task branch's diff and the latest review report."""
    from orchestrator.review.report import latest_report, render_markdown
    from orchestrator.sandbox import git
    from orchestrator.state import tasks
    from orchestrator.workflow import runs

    ws = state(ctx).workspace()
    card = runs.load_card(ws, task_id)
    branch = git.branch_name(task_id)
    # The diff and the report quote the branch's files and the models' words: untrusted text.
    target = tasks.target_branch(ws, card)
    echo(git.diff(ws.root, target, branch) or f"(no changes on {branch})", keep="\n\t")
    report = latest_report(ws, task_id)
    echo(render_markdown(report) if report else "No review report yet: run `aios review run`.", keep="\n\t")


@app.command("approve")
def approve(
    ctx: typer.Context,
    task_id: TaskId,
    deviation: Annotated[
        str | None,
        typer.Option(
            "--deviation", help="Override merge: an open deviation (DEV-0001) whose scope lists the task."
        ),
    ] = None,
    override_reason: Annotated[
        str | None,
        typer.Option(
            "--override-reason", help="Override merge: declare a deviation for the task with this reason."
        ),
    ] = None,
    expires: Annotated[
        str, typer.Option("--expires", help="The declared deviation's expiry (12h, 7d, 2026-12-31).")
    ] = "14d",
    as_json: JsonFlag = False,
) -> None:
    """Approve the reviewed change: it is merged into the target branch, if its gates pass.

    Needs an L2 project lead or higher (L1 for a task in the governance queue); never an agent.
    Merging a change the review did not approve (at an escalation) is an override: it needs a
    deviation covering the task (--deviation, or --override-reason to declare one), named on the
    task's audit trail.

    Exits 1 when nothing waits for a decision; approving a task already merged exits 0.
    """
    from orchestrator.governance.deviations import Override
    from orchestrator.workflow.options import RunOptions

    override = None
    if deviation is not None or override_reason is not None:
        override = Override(deviation=deviation, reason=override_reason, expires=expires)
    _answer(ctx, task_id, "approve", None, as_json, RunOptions(), override=override)


@app.command("reject")
def reject(
    ctx: typer.Context,
    task_id: TaskId,
    feedback: Annotated[str, typer.Option("--feedback", help="What the builder must change.")],
    model: ModelOpt = None,
    no_sandbox: NoSandbox = False,
    as_json: JsonFlag = False,
) -> None:
    """Send the change back to the builder with feedback: a new round runs.

    Exits 1 when nothing waits for a decision.
    """
    from orchestrator.workflow.options import RunOptions

    _answer(ctx, task_id, "reject", feedback, as_json, RunOptions(model=model, sandbox=not no_sandbox))


@app.command("dismiss")
def dismiss(
    ctx: typer.Context,
    task_id: TaskId,
    finding_id: Annotated[str, typer.Argument(help="The finding's id, in brackets in `aios review show`.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the finding does not apply.")],
    as_json: JsonFlag = False,
) -> None:
    """Dismiss a review finding: later rounds of the task list it as dismissed and do not count it.

    Needs an L2 project lead or higher (L1 for a task in the governance queue); never an agent.
    Recorded on the task's audit trail.
    """
    from orchestrator.workflow.dismissals import dismiss as dismiss_finding

    cli = state(ctx)
    done = dismiss_finding(
        cli.workspace(), task_id, finding_id, actor=cli.who(), reason=reason, session=cli.session()
    )
    if as_json:
        print_json(done.model_dump(mode="json"))
        return
    echo(
        f"{done.task}: dismissed {done.finding_id} ({done.finding.summary()}) by {done.actor}: {done.reason}"
    )


def _answer(
    ctx: typer.Context,
    tid: str,
    action: Literal["approve", "reject"],
    feedback: str | None,
    as_json: bool,
    options: RunOptions,
    *,
    override: Override | None = None,
) -> RunStatus:
    from orchestrator.workflow import runs

    result = runs.answer(
        state(ctx).workspace(),
        tid,
        action,
        actor=state(ctx).who(),
        session=state(ctx).session(),
        feedback=feedback,
        options=options,
        progress=_progress_for(ctx),
        override=override,
    )
    _refuse_if_idle(tid, action, result)
    _show(result, as_json)
    return result


def _refuse_if_idle(tid: str, action: str, result: RunStatus) -> None:
    """A decision that did nothing (``runs.answer`` says why in a note) is refused: exit 1.

    Approving a task that is already merged is the exception: what approving asks for holds, so a
    retried script step succeeds.
    """
    from orchestrator.errors import StateError

    if result.note is None or (action == "approve" and result.merged):
        return
    raise StateError(result.note, fix=f"`aios review status {tid}` shows what the task waits for")


_STYLES = {
    "APPROVED": "bold green",
    "NEEDS_REVISION": "bold yellow",
    "BLOCKED": "bold red",
    "critical": "red",
    "major": "yellow",
    "merged": "bold green",
}


def _progress_for(ctx: typer.Context) -> Callable[[str], None] | None:
    """The progress callback of a run: none under ``-q``."""
    return None if state(ctx).quiet else _progress


def _progress(message: str) -> None:
    """One line per step on stderr (stdout stays clean for --json), coloured on a terminal."""
    from rich.console import Console
    from rich.text import Text

    text = Text(safe(message))  # a Text is never parsed as markup; its controls are escaped here
    for word, style in _STYLES.items():
        text.highlight_words([word], style=style)
    Console(stderr=True, highlight=False).print(text)


def _show(result: RunStatus, as_json: bool) -> None:
    show_run(result.model_dump(mode="json"), as_json)
