"""``aios eval``: review the labelled corpus and print precision, recall and F1 (see ``eval/README.md``).

The review stack is imported inside the command, so ``aios --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli._output import JsonFlag, echo, print_json, usage_error

if TYPE_CHECKING:
    from orchestrator.evaluation.score import CaseScore, Counts, Totals
    from orchestrator.llm import UsageMeter
    from orchestrator.review.reviewer import Panel


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
        str,
        typer.Option("--reviewer", help="static: evidence only; model: evidence and the persona panel."),
    ] = "static",
    model: Annotated[
        str | None,
        typer.Option("--model", help="The panel's model (implies --reviewer model; default $AIOS_MODEL)."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", envvar="AIOS_BASE_URL", help="OpenAI-compatible server.")
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Write every model request/response to this JSONL.")
    ] = None,
    no_sandbox: Annotated[
        bool, typer.Option("--no-sandbox", help="Run the cases' commands without bubblewrap.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Review every case of the corpus; exit 1 when a case's findings differ from its labels.

    With a model (``--model replay:FILE`` plays back a recording made with ``--record FILE``), each
    case is reviewed as ``aios review run --reviewer model`` would: the evidence, then the default
    personas, each asked about each dimension.
    """
    spec = _model_spec(ctx, reviewer, model, record)
    from orchestrator.evaluation.corpus import load_corpus
    from orchestrator.evaluation.run import evaluate
    from orchestrator.evaluation.score import totals
    from orchestrator.resources import SHIPPED_ROOT
    from orchestrator.sandbox.bwrap import require_sandbox
    from orchestrator.workflow.wiring import SandboxRunners

    if not no_sandbox:
        require_sandbox()
    cases = load_corpus(corpus or SHIPPED_ROOT / "eval")
    panel, meter = _panel(spec, base_url, record) if spec else (None, None)
    try:
        scores = evaluate(cases, lambda repo: SandboxRunners(repo, not no_sandbox), panel=panel)
    finally:
        if record is not None:
            from orchestrator.llm.replay import close_recorder

            close_recorder(record)  # the recording is this run's; another run starts its own
    summary = totals(scores)
    usage = meter.to_dict()["total"] if meter is not None else None
    if as_json:
        print_json(_as_dict(scores, summary, spec, usage))
    else:
        _print_table(scores, summary, spec, usage)
    if any(s.missed or s.unexpected or s.errors for s in scores):
        raise typer.Exit(1)


def _model_spec(ctx: typer.Context, reviewer: str, model: str | None, record: Path | None) -> str | None:
    """The panel's model string, or None for the static reviewer; a usage error for a contradiction."""
    import os

    if reviewer not in ("static", "model"):
        raise usage_error(ctx, f"--reviewer is static or model, not {reviewer!r}")
    spec = model or (os.environ.get("AIOS_MODEL") if reviewer == "model" else None)
    if reviewer == "model" and not spec:
        raise usage_error(ctx, "--reviewer model needs a model: pass --model NAME or set AIOS_MODEL")
    if record is not None and not spec:
        raise usage_error(ctx, "--record records a model's calls: pass --model NAME")
    return spec


def _panel(spec: str, base_url: str | None, record: Path | None) -> tuple[Panel, UsageMeter]:
    """The default personas, all asking ``spec``: built before any case, so a bad model fails fast."""
    from orchestrator.llm import UsageMeter, get_model
    from orchestrator.review.reviewer import build_panel
    from orchestrator.review.settings import ReviewSettings
    from orchestrator.workflow.settings import WorkflowSettings

    meter = UsageMeter()
    model = get_model(spec, base_url=base_url, record=record, meter=meter)
    panel = build_panel(
        WorkflowSettings().personas.default,
        lambda _persona: model,
        card="",  # each case's own (its criteria), set per case
        near_lines=ReviewSettings().policy.grounding_near_lines,
    )
    return panel, meter


def _as_dict(
    scores: list[CaseScore], summary: Totals, spec: str | None, usage: dict[str, Any] | None
) -> dict[str, object]:
    data: dict[str, object] = {
        "reviewer": "model" if spec else "static",
        "cases": len(scores),
        "overall": summary.overall.figures(),
        "by_dimension": {k: v.figures() for k, v in sorted(summary.by_dimension.items())},
        "by_severity": {k: v.figures() for k, v in sorted(summary.by_severity.items())},
        "clean": {
            "cases": summary.clean_cases,
            "flagged": summary.clean_flagged,
            "false_positive_rate": round(summary.clean_fp_rate, 3),
        },
        "per_case": [_case_dict(s, model=bool(spec)) for s in scores],
    }
    if spec:
        data["model"] = spec
        data["dropped"] = {
            "ungrounded": sum(s.dropped_ungrounded for s in scores),
            "contradicted": sum(s.dropped_contradicted for s in scores),
        }
        keys = ("calls", "input_tokens", "output_tokens", "cost_usd")
        data["usage"] = {k: (usage or {}).get(k, 0) for k in keys}
    return data


def _case_dict(s: CaseScore, *, model: bool) -> dict[str, object]:
    data: dict[str, object] = {
        "name": s.name,
        "clean": s.clean,
        "found": len(s.found),
        "missed": [e.model_dump(mode="json", exclude_none=True) for e in s.missed],
        "unexpected": [
            f"{f.severity.value} {f.dimension.value} {f.summary(dimension=False)}" for f in s.unexpected
        ],
        "errors": s.errors,
    }
    if model:
        data["dropped"] = {"ungrounded": s.dropped_ungrounded, "contradicted": s.dropped_contradicted}
    return data


def _row(label: str, c: Counts) -> str:
    return f"  {label:<12} {c.tp:>4} {c.fp:>4} {c.fn:>4} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}"


def _print_table(
    scores: list[CaseScore], summary: Totals, spec: str | None, usage: dict[str, Any] | None
) -> None:
    title = f"model reviewer ({spec})" if spec else "static reviewer"
    lines = [
        f"{title} on {len(scores)} cases",
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
    if spec:
        ungrounded = sum(s.dropped_ungrounded for s in scores)
        contradicted = sum(s.dropped_contradicted for s in scores)
        lines.append(
            f"  model findings dropped: {ungrounded} outside the change, {contradicted} contradicted by"
            f" evidence; {(usage or {}).get('calls', 0)} model calls"
        )
    typer.echo("\n".join(lines))  # the table is ours: no text from the change in it
    for s in scores:
        for e in s.missed:
            where = f"{e.file}:{e.line}" if e.line else e.file or "the change"
            echo(f"  missed     {s.name}: {e.dimension.value} {e.rule} at {where}")
        for f in s.unexpected:
            echo(
                f"  unexpected {s.name}: {f.severity.value} {f.dimension.value} {f.summary(dimension=False)}"
            )
        for err in s.errors:
            echo(f"  error      {s.name}: {err}")
