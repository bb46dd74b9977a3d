"""``aios hooks install``: git hooks that check TaskCards at commit and spec/state at push."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, echo, print_json

hooks_app = typer.Typer(
    help="Git hooks: TaskCard schema at commit, spec and state at push.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")


@hooks_app.command("install")
def install(
    ctx: typer.Context,
    chain: Annotated[
        bool, typer.Option("--chain", help="Keep a hook aios did not write and run it first (else: refuse).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the pre-commit and pre-push hooks into the workspace's repository."""
    from orchestrator.governance import hooks

    done = hooks.install(state(ctx).workspace().root, python=sys.executable, chain=chain)
    if as_json:
        print_json([{"hook": h.name, "path": str(h.path), "chained": str(h.chained) if h.chained else None}
                    for h in done])  # fmt: skip
        return
    for hook in done:
        kept = f" (runs {hook.chained.name} first)" if hook.chained else ""
        echo(f"installed {hook.name}: {hook.path}{kept}")
