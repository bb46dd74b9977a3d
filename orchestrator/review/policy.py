"""The verdict policy: findings and evidence statuses decide, never a model's own verdict.

In order:

1. a check that could not run (``error``) or a provider error -> ``BLOCKED``, with the reasons;
2. a change to the governance canon outside the governance queue (``governance-canon``) ->
   ``BLOCKED``: a human decides, with every other reason the round found;
3. a failing acceptance check, failing tests, a nested repository, text aimed at the reviewer
   (``prompt-injection``, at any severity), or a security finding at ``security_floor`` or worse
   -> ``NEEDS_REVISION``;
4. a finding whose severity is in ``revise_on`` (critical, major by default) -> ``NEEDS_REVISION``;
5. otherwise ``APPROVED``.

Rules 1 to 3 are not settings: ``HARD_GATES`` is a constant, and no field of ``PolicySettings`` or
of any evidence section can turn a failed gate into a pass (a gate fails by its evidence status,
whatever severity its findings were given). The settings themselves are read from the workspace's
main checkout, never from the branch under review, and a branch that edits them is canon.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from orchestrator.review.evidence import EvidenceResult, EvidenceStatus
from orchestrator.review.evidence.canon import GOVERNANCE_CANON
from orchestrator.review.evidence.injection import RULE as INJECTION_RULE
from orchestrator.review.findings import Finding
from orchestrator.review.settings import PolicySettings, rule_matches

__all__ = [
    "ESCALATING_GATES",
    "HARD_GATES",
    "REVISING_RULES",
    "Decision",
    "PolicySettings",
    "Verdict",
    "decide",
    "is_security",
]

HARD_GATES = frozenset({"acceptance", "tests", "nested-git", GOVERNANCE_CANON})
"""Evidence kinds whose failure can never be approved, whatever any settings file says."""

ESCALATING_GATES = frozenset({GOVERNANCE_CANON})
"""Hard gates whose failure is ``BLOCKED``: a human decides, not another builder round."""

REVISING_RULES = frozenset({INJECTION_RULE})
"""Finding rules that never approve, whatever severity a settings file gives them: text aimed at
the reviewer is an attempt on the verdict itself (``evidence.quality.injection.severity``
decides how it reads in the report, not whether it passes)."""


class Verdict(StrEnum):
    """The outcome of a review round."""

    APPROVED = "APPROVED"
    NEEDS_REVISION = "NEEDS_REVISION"
    BLOCKED = "BLOCKED"


class Decision(BaseModel):
    """A verdict and the reasons for it, in the order the policy found them."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reasons: list[str]


def decide(
    findings: Iterable[Finding],
    evidence: Iterable[EvidenceResult],
    *,
    settings: PolicySettings | None = None,
    errors: Sequence[str] = (),
) -> Decision:
    """Decide the verdict of a round.

    Args:
        findings: every finding of the round (evidence and grounded model findings).
        evidence: every evidence result of the round.
        settings: the ``policy:`` section; defaults when None.
        errors: provider or reviewer failures (``"Q/security_expert: timeout"``): each blocks.
    """
    settings = settings or PolicySettings()
    findings, evidence = list(findings), list(evidence)
    blocked = [*errors, *_could_not_run(evidence)]
    if blocked:
        return Decision(verdict=Verdict.BLOCKED, reasons=blocked)
    revise = [*_hard_failures(evidence), *_finding_reasons(findings, settings)]
    escalate = _escalations(evidence)
    if escalate:
        # The person deciding sees everything else the round found too.
        return Decision(verdict=Verdict.BLOCKED, reasons=_unique([*escalate, *revise]))
    if revise:
        return Decision(verdict=Verdict.NEEDS_REVISION, reasons=_unique(revise))
    return Decision(verdict=Verdict.APPROVED, reasons=["no check failed and no finding requires revision"])


def _could_not_run(evidence: Iterable[EvidenceResult]) -> list[str]:
    return [f"check {r.name} could not run: {r.reason}" for r in evidence if r.status is EvidenceStatus.ERROR]


def _hard_failures(evidence: Iterable[EvidenceResult]) -> list[str]:
    return [
        f"check {r.name} failed"
        for r in evidence
        if r.kind in HARD_GATES - ESCALATING_GATES and r.status is EvidenceStatus.FAILED
    ]


def _escalations(evidence: Iterable[EvidenceResult]) -> list[str]:
    return [
        f"check {r.name} failed: {r.reason or 'see its findings'}; a human decides"
        for r in evidence
        if r.kind in ESCALATING_GATES and r.status is EvidenceStatus.FAILED
    ]


def _finding_reasons(findings: Iterable[Finding], settings: PolicySettings) -> list[str]:
    """One reason per finding that forces a revision: a security finding at the floor, or a severe one."""
    out = []
    for f in findings:
        if f.rule in REVISING_RULES:
            out.append(f"{f.rule} ({f.severity.value}): {f.summary()}")
        elif is_security(f, settings) and f.severity.at_least(settings.security_floor):
            out.append(f"security ({f.severity.value}): {f.summary()}")
        elif f.severity in settings.revise_on:
            out.append(f"{f.severity.value}: {f.summary()}")
    return out


def is_security(finding: Finding, settings: PolicySettings) -> bool:
    """True for a security finding: a security rule, or a model finding from a security persona."""
    if finding.rule and any(rule_matches(finding.rule, p) for p in settings.security_rules):
        return True
    return finding.persona is not None and finding.persona in settings.security_personas


def _unique(reasons: list[str]) -> list[str]:
    return list(dict.fromkeys(reasons))
