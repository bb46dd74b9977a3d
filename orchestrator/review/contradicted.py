"""Model findings the evidence outranks: capped when unplaced, dropped when contradicted.

A persona model may say anything; the evidence ran. Two rules keep its word in proportion:

- a model finding with no file and line cannot be above ``minor``: nobody can check it, so it
  cannot block a change on its own (``cap_unplaced``);
- a model finding the evidence contradicts is dropped and counted (``drop_contradicted``), e.g.
  "there are no tests" when the change touches test files and the tests pass. The report says
  "N model findings dropped as contradicted by evidence", so nothing vanishes silently.

Each contradiction is a row of ``CONTRADICTIONS``: what the model claims (a pattern on its
message) and the evidence that refutes it (a predicate on the round's results).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from orchestrator.review.evidence import EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Finding, Severity

__all__ = ["CONTRADICTIONS", "Contradiction", "cap_unplaced", "contradiction_of", "drop_contradicted"]

UNPLACED_CEILING = Severity.MINOR


def cap_unplaced(finding: Finding) -> Finding:
    """``finding`` with its severity at most ``minor`` when it names no file and line."""
    if finding.file and finding.line:
        return finding
    if finding.severity.rank <= UNPLACED_CEILING.rank:
        return finding
    return finding.model_copy(update={"severity": UNPLACED_CEILING})


def _passed(evidence: Sequence[EvidenceResult], name: str) -> bool:
    return any(e.name == name and e.status is EvidenceStatus.PASSED for e in evidence)


def _tests_changed_and_pass(evidence: Sequence[EvidenceResult]) -> bool:
    changed = any(
        e.name == "test-changes"
        and e.status is EvidenceStatus.PASSED
        and e.output_tail.startswith("tests changed")
        for e in evidence
    )
    return changed and _passed(evidence, "tests")


def _tests_pass(evidence: Sequence[EvidenceResult]) -> bool:
    return _passed(evidence, "tests")


def _parses(evidence: Sequence[EvidenceResult]) -> bool:
    # ruff ran on the changed Python files and reported no syntax error on them.
    ruff = [e for e in evidence if e.name == "ruff" and e.status is not EvidenceStatus.ERROR]
    return bool(ruff) and not any(f.rule == "invalid-syntax" for e in ruff for f in e.findings)


@dataclass(frozen=True)
class Contradiction:
    """A claim a model makes and the evidence that refutes it."""

    name: str
    claim: re.Pattern[str]
    refuted: Callable[[Sequence[EvidenceResult]], bool]


CONTRADICTIONS: tuple[Contradiction, ...] = (
    Contradiction(
        "no tests",
        re.compile(
            r"\b(?:no|missing|without|lacks?|lacking|absent)\s+(?:\w+\s+)?(?:unit\s+)?tests?\b"
            r"|\bnot\s+(?:been\s+)?tested\b|\buntested\b|\btests?\s+(?:are|is)\s+missing\b",
            re.I,
        ),
        _tests_changed_and_pass,
    ),
    Contradiction(
        "tests fail",
        re.compile(r"\btests?\s+(?:are\s+|is\s+)?(?:fail|failing|fails|broken)\b", re.I),
        _tests_pass,
    ),
    Contradiction(
        "syntax error",
        re.compile(r"\bsyntax\s+error\b|\bdoes\s+not\s+(?:parse|compile)\b", re.I),
        _parses,
    ),
)


def contradiction_of(finding: Finding, evidence: Sequence[EvidenceResult]) -> str | None:
    """The name of the contradiction that refutes ``finding``, or None when none does."""
    if finding.source != "model":
        return None  # evidence never contradicts itself
    for c in CONTRADICTIONS:
        if c.claim.search(finding.message) and c.refuted(evidence):
            return c.name
    return None


def drop_contradicted(
    findings: Iterable[Finding], evidence: Sequence[EvidenceResult]
) -> tuple[list[Finding], list[Finding]]:
    """``(kept, dropped)``: model findings the evidence contradicts are dropped."""
    kept: list[Finding] = []
    dropped: list[Finding] = []
    for f in findings:
        (dropped if contradiction_of(f, evidence) else kept).append(f)
    return kept, dropped
