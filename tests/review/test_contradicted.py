"""Model findings: capped at minor without file and line, dropped (and counted) when the evidence
contradicts them; dismissed findings are listed apart and never counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.review.contradicted import cap_unplaced, contradiction_of, drop_contradicted
from orchestrator.review.diff import Diff
from orchestrator.review.evidence import EvidenceContext, EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.policy import Verdict
from orchestrator.review.report import RoundReport, render_markdown
from orchestrator.review.round import CheckResult, RoundInputs, conclude
from orchestrator.review.settings import ReviewSettings

C = Dimension.COMPLETENESS


def model(
    message: str, severity: Severity = Severity.MAJOR, file: str | None = None, line: int | None = None
):
    return Finding(
        dimension=C, severity=severity, message=message, file=file, line=line, persona="testing_expert"
    )


def result(name: str, status: EvidenceStatus, tail: str = "") -> EvidenceResult:
    return EvidenceResult(name=name, dimension=C, status=status, output_tail=tail)


TESTS_CHANGED_AND_PASS = [
    result("tests", EvidenceStatus.PASSED),
    result("test-changes", EvidenceStatus.PASSED, "tests changed: tests/test_x.py"),
]


@pytest.mark.parametrize(
    ("file", "line", "severity"),
    [
        (None, None, Severity.MINOR),
        ("app/x.py", None, Severity.MINOR),
        ("app/x.py", 3, Severity.CRITICAL),
    ],
)
def test_a_model_finding_without_file_and_line_is_at_most_minor(file, line, severity) -> None:
    assert cap_unplaced(model("risky", Severity.CRITICAL, file, line)).severity is severity
    assert cap_unplaced(model("nit", Severity.INFO)).severity is Severity.INFO  # never raised


@pytest.mark.parametrize(
    "message",
    ["There are no tests for the new function", "The change is untested", "Missing unit tests", "not tested"],
)
def test_no_tests_is_contradicted_when_tests_changed_and_pass(message: str) -> None:
    assert contradiction_of(model(message), TESTS_CHANGED_AND_PASS) == "no tests"
    failing = [result("tests", EvidenceStatus.FAILED), TESTS_CHANGED_AND_PASS[1]]
    assert contradiction_of(model(message), failing) is None  # the tests fail: the model may be right
    unchanged = [TESTS_CHANGED_AND_PASS[0], result("test-changes", EvidenceStatus.PASSED, "no Python source")]
    assert contradiction_of(model(message), unchanged) is None


def test_evidence_findings_and_other_claims_are_never_dropped() -> None:
    evidence = Finding(
        dimension=C, severity=Severity.MAJOR, message="no tests", rule="no-tests", source="diff"
    )
    other = model("the loop is quadratic", file="app/x.py", line=3)
    kept, dropped = drop_contradicted([evidence, other, model("no tests at all")], TESTS_CHANGED_AND_PASS)
    assert kept == [evidence, other] and [f.message for f in dropped] == ["no tests at all"]


def _inputs(tmp_path: Path, dismissed: frozenset[str] = frozenset()) -> RoundInputs:
    return RoundInputs(EvidenceContext(tmp_path, Diff()), "a" * 40, "b" * 40, dismissed=dismissed)


def test_the_round_drops_contradicted_findings_counts_them_and_the_report_says_so(tmp_path: Path) -> None:
    check = CheckResult(dimension=C, evidence=TESTS_CHANGED_AND_PASS, findings=[model("no tests were added")])
    outcome = conclude(_inputs(tmp_path), [check], ReviewSettings().policy)
    assert outcome.findings == [] and outcome.dropped_contradicted == 1
    assert outcome.verdict is Verdict.APPROVED
    report = RoundReport(**outcome.model_dump(), task="TASK_DEV_0001", round=1, reviewer="model")
    assert "1 model findings dropped as contradicted by evidence." in render_markdown(report)


def test_a_dismissed_finding_is_listed_apart_and_does_not_block(tmp_path: Path) -> None:
    blocking = model("the retry loop never ends", file="app/x.py", line=3)
    check = CheckResult(dimension=C, findings=[blocking])
    before = conclude(_inputs(tmp_path), [check], ReviewSettings().policy)
    assert before.verdict is Verdict.NEEDS_REVISION
    after = conclude(_inputs(tmp_path, frozenset({blocking.fingerprint})), [check], ReviewSettings().policy)
    assert after.verdict is Verdict.APPROVED
    assert after.findings == [] and after.dismissed == [blocking]
    report = RoundReport(**after.model_dump(), task="TASK_DEV_0001", round=2, reviewer="model")
    text = render_markdown(report)
    assert "## Dismissed by a member (not counted)" in text and f"[{blocking.fingerprint}]" in text
