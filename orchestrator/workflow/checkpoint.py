"""What the checkpointer keeps between graph steps, and the one seam where models become plain data.

LangGraph checkpoints ``ReviewState`` as JSON-like data, so a run survives the process and a
checkpoint never depends on a class's pickling. Node code works with models: it reads a field
through a ``load_*`` function here and writes one through the matching ``dump_*``; nothing else
converts them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.errors import AiosError
from orchestrator.review.findings import Finding
from orchestrator.review.round import CheckResult


class ReviewState(TypedDict, total=False):
    """What the checkpointer keeps between steps (plain data only)."""

    task_id: str
    round: int
    base: str
    head: str
    last_reviewed: str | None
    feedback: list[str]
    checks: Annotated[dict[str, Any], operator.or_]
    """``"<round>:<dimension>"`` -> ``dump_check(result)``; parallel checks merge their keys."""
    verdict: str | None
    reasons: list[str]
    findings: list[dict[str, Any]]
    """The last round's findings, ``dump_findings``; read them with ``load_findings``."""
    waiting_for: str | None
    decision: dict[str, Any] | None
    """The human decision the run goes on from, ``dump_decision``; read it with ``load_decision``."""
    merged: str | None
    modes: dict[str, str]
    """``builder_mode`` and ``reviewer_mode`` the run started with; a resumed run keeps them."""
    usage_total: dict[str, Any]
    """The task's token and cost totals when the last round ended (to report each round's share)."""
    report: str | None
    """The last review round's report (``ops/reviews/<ID>/round-<N>.md``); None when the builder stopped."""


class HumanDecision(BaseModel):
    """A human's answer at a checkpoint: the graph's resume value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["approve", "reject"]
    actor: str
    feedback: str | None = None


# ---- the seam ----


def dump_check(result: CheckResult) -> dict[str, Any]:
    """One dimension's check result as the checkpoint keeps it."""
    return result.model_dump(mode="json")


def load_check(data: Mapping[str, Any]) -> CheckResult:
    """A check result back from the checkpoint."""
    return CheckResult.model_validate(data)


def dump_findings(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Findings as the checkpoint keeps them."""
    return [f.model_dump(mode="json") for f in findings]


def load_findings(data: Iterable[Mapping[str, Any]] | None) -> list[Finding]:
    """Findings back from the checkpoint (none when the run has no round yet)."""
    return [Finding.model_validate(f) for f in data or ()]


def dump_decision(decision: HumanDecision) -> dict[str, Any]:
    """A human decision as the graph's resume value and the checkpoint keep it."""
    return decision.model_dump(mode="json")


def load_decision(data: Any) -> HumanDecision | None:
    """The decision back from the checkpoint, or from a resume value (None: no decision yet).

    Raises:
        AiosError: the value is no approve or reject decision.
    """
    if data is None:
        return None
    try:
        return HumanDecision.model_validate(data)
    except ValidationError:
        raise AiosError(f"a human decision must be approve or reject, not {data!r}") from None
