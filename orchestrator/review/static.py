"""Static-only review (``--reviewer static``): the verdict from evidence alone, with no model.

The prompt-injection detector lives in ``orchestrator.review.evidence.injection`` (it is Q
evidence) and is re-exported here for the model reviewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.review.diff import commit_messages, git_diff, rev_parse
from orchestrator.review.evidence import (
    EvidenceContext,
    EvidenceResult,
    RunnerFactory,
    evidence_findings,
    gather_evidence,
    unchecked_criteria,
)
from orchestrator.review.evidence.injection import INJECTION_PATTERNS, detect_injection, injection_evidence
from orchestrator.review.findings import Finding
from orchestrator.review.policy import Verdict, decide
from orchestrator.review.settings import ReviewSettings
from orchestrator.state.taskcard import Criterion

__all__ = [
    "INJECTION_PATTERNS",
    "StaticReport",
    "detect_injection",
    "injection_evidence",
    "review_static",
    "sort_findings",
]


class StaticReport(BaseModel):
    """The outcome of a static review round (``model_dump(mode="json")`` for the full record)."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    reasons: list[str]
    base: str
    head: str
    findings: list[Finding] = Field(default_factory=list)
    """Every finding, worst first."""
    evidence: list[EvidenceResult] = Field(default_factory=list)
    unchecked_criteria: list[str] = Field(default_factory=list)
    """Ids of acceptance criteria without a check: only a model or a human can judge them."""

    def summary(self) -> dict[str, Any]:
        """What ``aios review run --reviewer static --json`` prints: verdict, reasons, findings, checks."""
        keys = ("dimension", "severity", "file", "line", "rule", "message")
        return {
            "verdict": self.verdict.value,
            "reasons": self.reasons,
            "findings": [f.model_dump(mode="json", include=set(keys)) for f in self.findings],
            "checks": [{"name": r.name, "status": r.status.value, "reason": r.reason} for r in self.evidence],
            "unchecked_criteria": self.unchecked_criteria,
        }


def review_static(
    worktree: Path,
    *,
    base: str,
    head: str = "HEAD",
    runners: RunnerFactory,
    criteria: Sequence[Criterion] = (),
    task_body: str = "",
    settings: ReviewSettings | None = None,
    test_paths: Sequence[str] = (),
    concurrent: bool = True,
) -> StaticReport:
    """Review the change ``base..head`` in ``worktree`` on evidence alone.

    Args:
        worktree: the task's worktree, checked out at ``head``.
        base: where the task branch started (``diff.merge_base(repo, "main")``).
        head: the commit under review.
        runners: binds each dimension's time limit into a ``Runner`` (sandbox or plain).
        criteria: the TaskCard's acceptance criteria (``id``, ``text``, ``check``).
        task_body: the TaskCard's text, scanned for instructions aimed at the reviewer.
        settings: the review's workflow settings; defaults when None.
        test_paths: test files or folders the TaskCard names; empty runs the whole suite.
        concurrent: gather the four dimensions in parallel threads.
    """
    settings = settings or ReviewSettings()
    base_id, head_id = rev_parse(worktree, base), rev_parse(worktree, head)
    diff = git_diff(worktree, base_id, head_id)
    ctx = EvidenceContext(worktree, diff, settings.evidence, criteria, test_paths)
    evidence = gather_evidence(ctx, runners, concurrent=concurrent)
    messages = commit_messages(worktree, base_id, head_id)
    evidence.append(
        injection_evidence(diff, messages, task_body, settings=settings.evidence.quality.injection)
    )
    findings = sort_findings(evidence_findings(evidence))
    decision = decide(findings, evidence, settings=settings.policy)
    return StaticReport(
        verdict=decision.verdict,
        reasons=decision.reasons,
        base=base_id,
        head=head_id,
        findings=findings,
        evidence=evidence,
        unchecked_criteria=[c.id for c in unchecked_criteria(criteria)],
    )


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by file and line."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.file or "", f.line or 0, f.rule or ""))
