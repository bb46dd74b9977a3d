"""The hard gates hold whatever the settings say, and governance-canon escalates to a human."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.review.evidence import EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.policy import ESCALATING_GATES, HARD_GATES, Verdict, decide
from orchestrator.review.settings import PolicySettings
from orchestrator.workflow.settings import parse_workflow

FAIL, PASS = EvidenceStatus.FAILED, EvidenceStatus.PASSED

#: The most permissive policy a settings file can state: nothing forces a revision.
WEAKEST = PolicySettings(
    revise_on=[], security_floor=Severity.CRITICAL, security_rules=[], security_personas=[]
)


def gate(kind: str, status: EvidenceStatus = FAIL, severity: Severity = Severity.INFO) -> EvidenceResult:
    """A gate's result whose finding a settings file rated as harmless as it can."""
    name = f"{kind}:AC1" if kind == "acceptance" else kind
    finding = Finding(dimension=Dimension.QUALITY, severity=severity, file="x.py", rule=kind, message="m")
    return EvidenceResult(
        name=name, dimension=Dimension.QUALITY, status=status, reason=f"{kind} said no", findings=[finding]
    )


def test_the_gates_are_the_documented_four() -> None:
    assert sorted(HARD_GATES) == ["acceptance", "governance-canon", "nested-git", "tests"]
    assert sorted(ESCALATING_GATES) == ["governance-canon"]


@pytest.mark.parametrize("kind", sorted(HARD_GATES))
@pytest.mark.parametrize("settings", [None, WEAKEST], ids=["shipped", "weakest"])
def test_a_failed_gate_never_approves_whatever_the_policy_settings(kind: str, settings) -> None:
    decision = decide(gate(kind).findings, [gate(kind)], settings=settings)
    expected = Verdict.BLOCKED if kind in ESCALATING_GATES else Verdict.NEEDS_REVISION
    assert decision.verdict is expected
    assert any(reason.startswith(f"check {gate(kind).name} failed") for reason in decision.reasons)


def test_governance_canon_blocks_and_lists_every_other_reason_too() -> None:
    canon = gate("governance-canon", severity=Severity.CRITICAL)
    decision = decide(canon.findings, [canon, gate("tests")])
    assert decision.verdict is Verdict.BLOCKED
    assert decision.reasons == [
        "check governance-canon failed: governance-canon said no; a human decides",
        "check tests failed",
        "critical: x.py governance-canon: m",
    ]


def test_governance_changes_in_the_governance_queue_do_not_block() -> None:
    """There the check passes with info findings: the merge, not the review, needs an L1/L0 member."""
    info = gate("governance-canon", PASS, Severity.INFO)
    assert decide(info.findings, [info]).verdict is Verdict.APPROVED


def test_a_could_not_run_block_keeps_its_own_reasons_only() -> None:
    error = EvidenceResult(
        name="ruff", dimension=Dimension.QUALITY, status=EvidenceStatus.ERROR, reason="gone"
    )
    decision = decide([], [error, gate("governance-canon")])
    assert decision == decide([], [error])  # as before: the checks that could not run come first


@pytest.mark.parametrize(
    "policy",
    ["hard_gates: []", "gates: {governance-canon: false}", "escalate: []", "canon_paths: []"],
)
def test_no_workflow_file_can_name_the_gates(policy: str) -> None:
    with pytest.raises(ConfigError, match="policy"):
        parse_workflow(f"policy:\n  {policy}\n", file="workflows/pair_programming.yaml")
