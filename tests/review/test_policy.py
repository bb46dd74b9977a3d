"""The verdict policy as a table: findings and evidence statuses in, verdict out."""

from __future__ import annotations

import pytest

from orchestrator.review.evidence import EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.policy import Verdict, decide, is_security
from orchestrator.review.settings import PolicySettings

PASS, FAIL, ERROR = EvidenceStatus.PASSED, EvidenceStatus.FAILED, EvidenceStatus.ERROR
CRIT, MAJOR, MINOR, INFO = Severity.CRITICAL, Severity.MAJOR, Severity.MINOR, Severity.INFO
LENIENT = PolicySettings(revise_on=[Severity.CRITICAL])  # a workspace that lets majors through


def ev(name: str, status: EvidenceStatus = PASS, reason: str | None = None) -> EvidenceResult:
    return EvidenceResult(name=name, dimension=Dimension.QUALITY, status=status, reason=reason)


def fd(severity: Severity, rule: str | None = "F401", persona: str | None = None) -> Finding:
    source = "model" if persona else "ruff"
    return Finding(
        dimension=Dimension.QUALITY,
        severity=severity,
        message="m",
        file="a.py",
        line=1,
        rule=rule,
        persona=persona,
        source=source,
    )


ALL_PASS = [ev("ruff"), ev("tests"), ev("acceptance:AC1")]

TABLE = [
    # (case, findings, evidence, settings, errors, verdict)
    ("nothing found", [], ALL_PASS, None, (), Verdict.APPROVED),
    ("minor and info only", [fd(MINOR), fd(INFO)], ALL_PASS, None, (), Verdict.APPROVED),
    ("a major finding", [fd(MAJOR)], ALL_PASS, None, (), Verdict.NEEDS_REVISION),
    ("a critical finding", [fd(CRIT)], ALL_PASS, None, (), Verdict.NEEDS_REVISION),
    ("a major finding, lenient policy", [fd(MAJOR)], ALL_PASS, LENIENT, (), Verdict.APPROVED),
    ("failing tests, no finding", [], [ev("tests", FAIL)], None, (), Verdict.NEEDS_REVISION),
    ("failing tests, lenient", [fd(MINOR)], [ev("tests", FAIL)], LENIENT, (), Verdict.NEEDS_REVISION),
    ("failing acceptance check", [], [ev("acceptance:AC1", FAIL)], LENIENT, (), Verdict.NEEDS_REVISION),
    ("a failed non-gating check", [fd(MINOR)], [ev("ruff", FAIL)], None, (), Verdict.APPROVED),
    ("major security, lenient", [fd(MAJOR, "S608")], ALL_PASS, LENIENT, (), Verdict.NEEDS_REVISION),
    ("major secret, lenient", [fd(MAJOR, "secret")], ALL_PASS, LENIENT, (), Verdict.NEEDS_REVISION),
    (
        "security persona, lenient",
        [fd(MAJOR, None, "security_expert")],
        ALL_PASS,
        LENIENT,
        (),
        Verdict.NEEDS_REVISION,
    ),
    ("other persona, lenient", [fd(MAJOR, None, "domain_expert")], ALL_PASS, LENIENT, (), Verdict.APPROVED),
    ("minor security finding", [fd(MINOR, "S311")], ALL_PASS, None, (), Verdict.APPROVED),
    ("SIM is not S", [fd(MAJOR, "SIM101")], ALL_PASS, LENIENT, (), Verdict.APPROVED),
    ("a check error", [], [*ALL_PASS, ev("coverage", ERROR, "timed out")], None, (), Verdict.BLOCKED),
    ("an error beats a critical", [fd(CRIT)], [ev("ruff", ERROR, "x")], None, (), Verdict.BLOCKED),
    ("a provider error", [], ALL_PASS, None, ("Q/security_expert: HTTP 500",), Verdict.BLOCKED),
]


@pytest.mark.parametrize(
    ("case", "findings", "evidence", "settings", "errors", "verdict"), TABLE, ids=[t[0] for t in TABLE]
)
def test_policy_table(case, findings, evidence, settings, errors, verdict) -> None:
    assert decide(findings, evidence, settings=settings, errors=errors).verdict is verdict


@pytest.mark.parametrize("revise_on", [[], [Severity.CRITICAL], [Severity.INFO]])
def test_hard_rules_hold_under_any_revise_on(revise_on) -> None:
    settings = PolicySettings(revise_on=revise_on)
    assert decide([], [ev("tests", FAIL)], settings=settings).verdict is not Verdict.APPROVED
    assert decide([], [ev("acceptance:AC2", FAIL)], settings=settings).verdict is not Verdict.APPROVED
    assert decide([fd(CRIT, "S602")], ALL_PASS, settings=settings).verdict is not Verdict.APPROVED


def test_blocked_reasons_name_the_check_and_why() -> None:
    decision = decide(
        [], [ev("tests", ERROR, "could not start `python` (exit 127)")], errors=["provider down"]
    )
    assert decision.reasons == [
        "provider down",
        "check tests could not run: could not start `python` (exit 127)",
    ]


def test_revision_reasons_say_where() -> None:
    decision = decide([fd(MAJOR, "S608"), fd(MAJOR, "B006")], [ev("tests", FAIL)])
    assert decision.reasons == [
        "check tests failed",
        "security (major): a.py:1 S608: m",
        "major: a.py:1 B006: m",
    ]


def test_is_security() -> None:
    settings = PolicySettings()
    assert is_security(fd(MINOR, "S105"), settings)
    assert is_security(fd(MINOR, "prompt-injection"), settings)
    assert not is_security(fd(MINOR, "SIM101"), settings)
    assert not is_security(fd(MINOR, None), settings)
