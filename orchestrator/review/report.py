"""The report of a review round: ``ops/reviews/<TASK_ID>/round-<N>.json`` and a readable ``.md``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from orchestrator import _yaml
from orchestrator._files import atomic_write, read_text
from orchestrator.errors import StateError
from orchestrator.redact import mask_data, mask_secrets
from orchestrator.review.evidence import EvidenceResult
from orchestrator.review.findings import Finding
from orchestrator.review.round import RoundOutcome
from orchestrator.state.workspace import Workspace


class RoundReport(RoundOutcome):
    """Everything one review round of a task decided, and why: the outcome, whose round, its cost."""

    task: str
    round: int
    reviewer: str
    """``model`` (evidence plus persona models) or ``static`` (evidence alone)."""
    usage: dict[str, Any] = Field(default_factory=dict)


def report_paths(ws: Workspace, task: str, round_: int) -> tuple[Path, Path]:
    folder = ws.reviews_dir(task)
    return folder / f"round-{round_}.md", folder / f"round-{round_}.json"


def write_report(ws: Workspace, report: RoundReport) -> list[str]:
    """Write both files (replacing a previous attempt of the same round); returns their paths."""
    md, js = report_paths(ws, report.task, report.round)
    md.parent.mkdir(parents=True, exist_ok=True)
    # The fields are masked already; the whole text once more, so a field added later is covered too.
    atomic_write(js, json.dumps(mask_data(report.model_dump(mode="json")), indent=2) + "\n")
    atomic_write(md, mask_secrets(render_markdown(report)))
    return [ws.rel(md), ws.rel(js)]


def reports(ws: Workspace, task: str) -> list[RoundReport]:
    """Every round's report of ``task``, first round first (the web page shows the earlier rounds)."""
    folder = ws.reviews_dir(task)
    files = sorted(folder.glob("round-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    return [RoundReport.model_validate_json(f.read_text(encoding="utf-8")) for f in files]


def latest_report(ws: Workspace, task: str) -> RoundReport | None:
    """The highest-numbered round's report of ``task``, if any.

    Raises:
        StateError: the report is not JSON or not a round report, naming the file and the fix.
    """
    folder = ws.reviews_dir(task)
    rounds = [(int(m[1]), p) for p in folder.glob("round-*.json") if (m := _ROUND_FILE.match(p.name))]
    if not rounds:
        return None
    path = max(rounds)[1]
    rel = ws.rel(path)
    fix = (
        f"restore it from git (`git checkout -- {rel}`), or delete it and its .md and run "
        f"`aios review submit {task}` to review the change again"
    )
    text = read_text(path, file=rel)
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        reason = getattr(exc, "msg", str(exc))
        raise StateError(
            f"the review report is not valid JSON ({reason})", file=rel, line=line, fix=fix
        ) from None
    try:
        return _yaml.validate(RoundReport, data, file=rel, error=StateError)
    except StateError as exc:
        exc.message = f"the review report is damaged: {exc.message}"
        exc.fix = fix
        raise


#: A round's report, ``round-3.json``; any other file in the folder is not one.
_ROUND_FILE = re.compile(r"^round-(\d+)\.json$")


def render_markdown(r: RoundReport) -> str:
    """The report as a person reads it."""
    lines = [
        f"# Review of {r.task}, round {r.round}: {r.verdict.value}",
        "",
        f"Reviewer: {r.reviewer}. Change `{r.base[:10]}..{r.head[:10]}`.",
        "",
        "## Why",
        *(f"- {reason}" for reason in r.reasons),
        "",
        f"## Findings ({len(r.findings)}; new {r.new_count}, still open {r.open_count}, "
        f"dropped as ungrounded: {r.dropped_ungrounded})",
        *(_finding_line(f) for f in r.findings),
    ]
    if r.dropped_contradicted:
        lines += ["", f"{r.dropped_contradicted} model findings dropped as contradicted by evidence."]
    if r.dismissed:
        lines += ["", "## Dismissed by a member (not counted)", *(_finding_line(f) for f in r.dismissed)]
    if r.resolved:
        lines += ["", "## Fixed since the previous round", *(_finding_line(f) for f in r.resolved)]
    if r.errors:
        lines += ["", "## Checks that could not run", *(f"- {e}" for e in r.errors)]
    lines += ["", "## Evidence", *(_evidence_line(e) for e in r.evidence)]
    if r.usage:
        lines += [
            "",
            f"Usage this round: {r.usage.get('input_tokens', 0)} tokens in, "
            f"{r.usage.get('output_tokens', 0)} out, ${r.usage.get('cost_usd') or 0:.4f}.",
        ]
    return "\n".join(lines) + "\n"


def _finding_line(f: Finding) -> str:
    who = f.persona or f.source
    # The id is what `aios review dismiss TASK_ID FINDING_ID` takes.
    head = f"- **{f.severity.value}** {f.dimension.value} ({who}) [{f.fingerprint}]"
    return f"{head} {f.summary(suggestion=True, dimension=False)}"


def _evidence_line(e: EvidenceResult) -> str:
    reason = f": {e.reason}" if e.reason else ""
    return f"- {e.dimension.value} `{e.name}` {e.status.value}{reason}"
