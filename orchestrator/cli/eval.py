"""``aios eval``: review the labelled corpus and print precision, recall and F1 (see ``eval/README.md``).

The review stack is imported inside the command, so ``aios --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._output import JsonFlag, echo, print_json, usage_error

if TYPE_CHECKING:
    from orchestrator.evaluation.score import CaseScore, Counts, Totals


def register(app: typer.Typer) -> None:
    """Add ``eval`` to ``app``."""
    app.command("eval")(eval_command)


def eval_command(
    ctx: typer.Context,
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="A folder of cases (default: the corpus shipped with aios)."),
    ] = None,
    reviewer: Annotated[
        str, typer.Option("--reviewer", help="static: evidence only (model: not yet).")
    ] = "static",
    model: Annotated[
        str | None, typer.Option("--model", help="The model reviewer's model (not yet).")
    ] = None,
    no_sandbox: Annotated[
        bool, typer.Option("--no-sandbox", help="Run the cases' commands without bubblewrap.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Review every case of the corpus; exit 1 when a case's findings differ from its labels."""
    if reviewer != "static" or model is not None:
        # Scoring is reviewer-agnostic; only the static reviewer is wired to the corpus so far.
        raise usage_error(
            ctx,
            "aios eval runs the static reviewer only for now: drop --model, use --reviewer static",
        )
    from orchestrator.evaluation.corpus import load_corpus
    from orchestrator.evaluation.run import evaluate
    from orchestrator.evaluation.score import totals
    from orchestrator.resources import SHIPPED_ROOT
    from orchestrator.sandbox.bwrap import require_sandbox
    from orchestrator.workflow.wiring import SandboxRunners

    if not no_sandbox:
        require_sandbox()
    cases = load_corpus(corpus or SHIPPED_ROOT / "eval")
    scores = evaluate(cases, lambda repo: SandboxRunners(repo, not no_sandbox))
    summary = totals(scores)
    if as_json:
        print_json(_as_dict(scores, summary))
    else:
        _print_table(scores, summary)
    if any(s.missed or s.unexpected for s in scores):
        raise typer.Exit(1)


def _as_dict(scores: list[CaseScore], summary: Totals) -> dict[str, object]:
    return {
        "reviewer": "static",
        "cases": len(scores),
        "overall": summary.overall.figures(),
        "by_dimension": {k: v.figures() for k, v in sorted(summary.by_dimension.items())},
        "by_severity": {k: v.figures() for k, v in sorted(summary.by_severity.items())},
        "clean": {
            "cases": summary.clean_cases,
            "flagged": summary.clean_flagged,
            "false_positive_rate": round(summary.clean_fp_rate, 3),
        },
        "per_case": [
            {
                "name": s.name,
                "clean": s.clean,
                "found": len(s.found),
                "missed": [e.model_dump(mode="json", exclude_none=True) for e in s.missed],
                "unexpected": [f"{f.severity.value} {f.dimension.value} {f.summary()}" for f in s.unexpected],
                "errors": s.errors,
            }
            for s in scores
        ],
    }


def _row(label: str, c: Counts) -> str:
    return f"  {label:<12} {c.tp:>4} {c.fp:>4} {c.fn:>4} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}"


def _print_table(scores: list[CaseScore], summary: Totals) -> None:
    lines = [
        f"static reviewer on {len(scores)} cases",
        f"  {'':<12} {'tp':>4} {'fp':>4} {'fn':>4} precision  recall     f1",
    ]
    lines.append(_row("overall", summary.overall))
    lines += [_row(f"dimension {k}", v) for k, v in sorted(summary.by_dimension.items())]
    order = ["critical", "major", "minor"]
    lines += [_row(k, summary.by_severity[k]) for k in order if k in summary.by_severity]
    lines.append(
        f"  clean changes: {summary.clean_flagged} of {summary.clean_cases} with a finding above info"
        f" (false-positive rate {summary.clean_fp_rate:.3f})"
    )
    typer.echo("\n".join(lines))
    for s in scores:
        for e in s.missed:
            where = f"{e.file}:{e.line}" if e.line else e.file or "the change"
            echo(f"  missed     {s.name}: {e.dimension.value} {e.rule} at {where}")
        for f in s.unexpected:
            echo(f"  unexpected {s.name}: {f.severity.value} {f.dimension.value} {f.summary()}")
        for err in s.errors:
            echo(f"  error      {s.name}: {err}")
