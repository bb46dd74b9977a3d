"""The typer application: global options and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from orchestrator.cli._context import CliState
from orchestrator.cli._errors import error_boundary


class _ErrorBoundary(TyperGroup):
    """Every command runs inside the one error boundary, from the console script and in tests alike."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        with error_boundary():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_ErrorBoundary,
    name="aios",
    help="AI Workflow OS: AI agents write code under human governance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold API keys
    rich_markup_mode=None,
)


@app.callback()
def main(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Option("--root", envvar="AIOS_ROOT", help="Workspace root (default: found by walking up)."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="AIOS_ACTOR",
            help="Who acts: a member name, or agent:<id> for an agent (default: your user name).",
        ),
    ] = None,
) -> None:
    """AI Workflow OS: TaskCards, a builder/reviewer loop, human checkpoints and an audit trail."""
    ctx.obj = CliState(root=root, actor=actor)


# Command groups. Each module defines `app` (a typer.Typer) or commands, importing heavy stacks lazily.
from orchestrator.cli import workspace as _workspace  # noqa: E402

_workspace.register(app)

from orchestrator.cli import queue as _queue  # noqa: E402
from orchestrator.cli import task as _task  # noqa: E402

app.add_typer(_task.app, name="task")
app.add_typer(_queue.app, name="queue")

from orchestrator.cli import demo as _demo  # noqa: E402

_demo.register(app)
from orchestrator.cli import models as _models  # noqa: E402

_models.register(app)

from orchestrator.cli import review as _review  # noqa: E402

app.add_typer(_review.app, name="review")
