"""Match a case's findings to its expectations and total the figures (precision, recall, F1).

Only findings above ``info`` count: ``info`` never blocks and is how the reviewer notes, not flags.
A finding matches an expectation when dimension and rule agree, and file and line too where the
expectation names them, and it is at least as severe as the expectation's floor. A model's
finding names no rule: it matches an expectation that names a file when dimension, file and line
agree (an expectation without a place cannot be told from any other remark of that dimension).
A finding above info that matches nothing is a false positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from orchestrator.evaluation.corpus import Expected
from orchestrator.review.findings import Finding, Severity


class Counts(BaseModel):
    """True positives, false positives, false negatives, and the figures they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def figures(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
        }


class CaseScore(BaseModel):
    """One case: which expectations were found, missed, and which findings nobody expected."""

    name: str
    clean: bool
    found: list[Expected] = Field(default_factory=list)
    missed: list[Expected] = Field(default_factory=list)
    unexpected: list[Finding] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    dropped_ungrounded: int = 0
    """Model findings about files or lines outside the change, dropped before scoring."""
    dropped_contradicted: int = 0
    """Model findings the evidence contradicts, dropped before scoring."""


def flagged(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that count: those above ``info``."""
    return [f for f in findings if f.severity.rank > Severity.INFO.rank]


def matches(expected: Expected, finding: Finding) -> bool:
    """True when ``finding`` is what ``expected`` describes."""
    if finding.rule is None and expected.file is None:
        return False  # a model's remark with no rule matches only a placed expectation
    return (
        finding.dimension == expected.dimension
        and finding.rule in (expected.rule, None)
        and (expected.file is None or finding.file == expected.file)
        and (expected.line is None or finding.line == expected.line)
        and finding.severity.at_least(expected.severity)
    )


def score_case(
    name: str, expected: Sequence[Expected], findings: Sequence[Finding], *, clean: bool
) -> CaseScore:
    """Pair each expectation with at most one finding; the rest are misses or false positives."""
    left = flagged(findings)
    score = CaseScore(name=name, clean=clean)
    for exp in expected:
        # A finding of the expected rule first: a model's agreeing remark must not take its place.
        hit = min((f for f in left if matches(exp, f)), key=lambda f: f.rule is None, default=None)
        if hit is None:
            score.missed.append(exp)
        else:
            score.found.append(exp)
            left.remove(hit)
    # A second finding of an expected rule at an expected place (two detectors agreeing) is not noise.
    score.unexpected = [f for f in left if not any(matches(e, f) for e in expected)]
    return score


class Totals(BaseModel):
    """The corpus's figures: overall, per dimension, per severity, and on the clean changes."""

    overall: Counts = Field(default_factory=Counts)
    by_dimension: dict[str, Counts] = Field(default_factory=dict)
    by_severity: dict[str, Counts] = Field(default_factory=dict)
    clean_cases: int = 0
    clean_flagged: int = 0
    """Clean cases with at least one finding above info."""

    @property
    def clean_fp_rate(self) -> float:
        return self.clean_flagged / self.clean_cases if self.clean_cases else 0.0


def totals(scores: Iterable[CaseScore]) -> Totals:
    """Sum the cases: expectations by their dimension and severity floor, false positives by theirs."""
    out = Totals()

    def bump(dimension: str, severity: str, counts: Counts) -> None:
        out.overall.add(counts)
        out.by_dimension.setdefault(dimension, Counts()).add(counts)
        out.by_severity.setdefault(severity, Counts()).add(counts)

    for s in scores:
        for e in s.found:
            bump(e.dimension.value, e.severity.value, Counts(tp=1))
        for e in s.missed:
            bump(e.dimension.value, e.severity.value, Counts(fn=1))
        for f in s.unexpected:
            bump(f.dimension.value, f.severity.value, Counts(fp=1))
        if s.clean:
            out.clean_cases += 1
            out.clean_flagged += bool(s.unexpected)
    return out
