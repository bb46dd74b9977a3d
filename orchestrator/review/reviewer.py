"""One dimension's check: evidence first, then each persona's model review, grounded in the diff.

The model never returns a verdict (its reply schema has no such field); its findings about files
or lines outside the change are dropped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.redact import mask_secrets
from orchestrator.review.diff import ground
from orchestrator.review.evidence import (
    EvidenceContext,
    EvidenceResult,
    RunnerFactory,
    collect_dimension,
    evidence_findings,
    render_evidence,
)
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.personas import DimensionText, Persona

if TYPE_CHECKING:
    from orchestrator.llm import Model


class ModelFinding(BaseModel):
    """A finding as a model reports it (dimension and persona are added by us)."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity
    file: str | None = None
    line: int | None = None
    message: str = Field(min_length=1)
    suggestion: str | None = None


class ReviewReply(BaseModel):
    """What a persona model may answer: findings only, no verdict."""

    model_config = ConfigDict(extra="forbid")

    findings: list[ModelFinding]


class CheckResult(BaseModel):
    """The outcome of one dimension's check in one round."""

    model_config = ConfigDict(extra="forbid")

    dimension: Dimension
    evidence: list[EvidenceResult] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    dropped_ungrounded: int = 0
    errors: list[str] = Field(default_factory=list)
    """Reviewer failures (provider errors, garbage answers): each blocks the verdict."""

    @field_validator("errors")
    @classmethod
    def _masked(cls, errors: list[str]) -> list[str]:
        return [mask_secrets(e) for e in errors]


class ModelReview(BaseModel):
    """What the persona models contribute to a check."""

    template: str
    dimension_text: DimensionText
    personas: list[Persona]
    card: str
    change: str
    """The numbered diff (round 1) or the delta plus open findings (later rounds)."""
    near_lines: int | None = 10

    model_config = ConfigDict(arbitrary_types_allowed=True)


def run_check(
    dimension: Dimension,
    ctx: EvidenceContext,
    runners: RunnerFactory,
    *,
    extra_evidence: Sequence[EvidenceResult] = (),
    review: ModelReview | None = None,
    models: Mapping[str, Model] | None = None,
) -> CheckResult:
    """Gather ``dimension``'s evidence, then (unless ``review`` is None) ask each persona's model."""
    evidence = [*collect_dimension(ctx, dimension, runners), *extra_evidence]
    result = CheckResult(dimension=dimension, evidence=evidence, findings=evidence_findings(evidence))
    if review is None or not models:
        return result
    evidence_text = stable_text(render_evidence(evidence), ctx.worktree)
    with ThreadPoolExecutor(
        max_workers=len(review.personas), thread_name_prefix=f"review-{dimension}"
    ) as pool:
        futures = [
            pool.submit(_ask, dimension, persona, models[persona.name], review, evidence_text, ctx)
            for persona in review.personas
        ]
        for future in futures:
            findings, dropped, error = future.result()
            result.findings.extend(findings)
            result.dropped_ungrounded += dropped
            if error:
                result.errors.append(mask_secrets(error))  # appending bypasses the field validator
    return result


_TIMINGS = re.compile(r"\b\d+(?:\.\d+)?m?s\b")


def stable_text(text: str, worktree: Path) -> str:
    """Evidence without volatile details (the worktree's absolute path, timings).

    Identical evidence then makes identical prompts: provider prompt caches hit, and a recorded
    run replays.
    """
    return _TIMINGS.sub("<t>", text.replace(str(worktree), "."))


def prompt_for(dimension: Dimension, persona: Persona, review: ModelReview, evidence_text: str) -> str:
    """The reviewer prompt for one persona on one dimension."""
    return Template(review.template).safe_substitute(
        persona_title=persona.title,
        persona_focus=persona.focus,
        checklist="\n".join(f"- {item}" for item in persona.checklist),
        severity="\n".join(f"- {level}: {text}" for level, text in persona.severity.items()),
        dimension_name=review.dimension_text.name,
        dimension_code=dimension.value,
        dimension_focus=review.dimension_text.focus,
        card=review.card,
        evidence=evidence_text or "(none)",
        change=review.change,
    )


def _ask(
    dimension: Dimension,
    persona: Persona,
    model: Model,
    review: ModelReview,
    evidence_text: str,
    ctx: EvidenceContext,
) -> tuple[list[Finding], int, str | None]:
    from orchestrator.errors import AiosError

    prompt = prompt_for(dimension, persona, review, evidence_text)
    try:
        reply = model.structured(prompt, ReviewReply, node=f"check_{dimension.value}")
    except AiosError as exc:
        return [], 0, f"{dimension.value}/{persona.name}: {exc.message}"
    findings = [
        Finding(dimension=dimension, persona=persona.name, source="model", **item.model_dump())
        for item in reply.findings
    ]
    kept, dropped = ground(findings, ctx.diff, near=review.near_lines)
    return kept, len(dropped), None
