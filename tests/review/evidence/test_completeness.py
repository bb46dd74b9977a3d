"""C: the tests' failures one finding each, coverage of the changed lines, a custom test command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review.evidence import EvidenceContext, EvidenceStatus
from orchestrator.review.evidence.completeness import coverage_result, run_tests
from orchestrator.review.settings import EvidenceSettings

from .fakes import NEW_FILE, ctx_for, fake


def _pytest_output(text: str, returncode: int, coverage: dict | None = None):
    marker = f"\nAIOS-COVERAGE {json.dumps(coverage or {})}" if coverage is not None else ""
    return fake(text + marker, returncode)


def test_failing_tests_are_listed_one_finding_each(tmp_path: Path) -> None:
    out = "FAILED tests/test_a.py::test_one - AssertionError: boom\nERROR tests/test_b.py::test_two\n1 failed"
    tests, coverage = run_tests(ctx_for(tmp_path), _pytest_output(out, 1, {}))
    assert tests.status is EvidenceStatus.FAILED
    assert [f.message for f in tests.findings] == [
        "test tests/test_a.py::test_one fails",
        "test tests/test_b.py::test_two fails",
    ]
    assert tests.findings[0].suggestion == "AssertionError: boom"
    assert "AIOS-COVERAGE" not in tests.output_tail
    assert coverage.status is EvidenceStatus.PASSED


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (
            _pytest_output("AIOS-COVERAGE-ERROR cannot import coverage: install coverage and pytest", 3),
            "coverage",
        ),
        (_pytest_output("ERROR: file or directory not found: tests/x.py", 4, {}), "exited with 4"),
        (_pytest_output("1 passed", 0), "exited with 0"),  # no marker: not our driver's output
    ],
)
def test_tests_that_cannot_run_are_errors(tmp_path: Path, run, reason: str) -> None:
    tests, coverage = run_tests(ctx_for(tmp_path), run)
    assert tests.status is EvidenceStatus.ERROR and reason in (tests.reason or "")
    assert coverage.status is EvidenceStatus.ERROR


def test_no_tests_collected_fails(tmp_path: Path) -> None:
    tests, _ = run_tests(ctx_for(tmp_path), _pytest_output("no tests ran", 5, {}))
    assert tests.status is EvidenceStatus.FAILED
    assert tests.findings[0].message == "the tests fail: no tests were collected"


def test_coverage_of_changed_lines(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)  # app/x.py lines 1-3 changed
    full = coverage_result(ctx, {"app/x.py": {"statements": [1, 2, 3], "missing": []}})
    assert full.status is EvidenceStatus.PASSED and "3/3" in full.output_tail
    low = coverage_result(ctx, {"app/x.py": {"statements": [1, 2, 3, 9], "missing": [2, 3, 9]}})
    assert low.status is EvidenceStatus.FAILED
    [finding] = low.findings
    assert (finding.file, finding.line, finding.message) == (
        "app/x.py",
        2,
        "changed lines not covered by any test: 2-3",
    )


def test_a_custom_test_command(tmp_path: Path) -> None:
    settings = EvidenceSettings.model_validate(
        {"completeness": {"tests": {"command": ["sh", "-c", "exit 1"]}}}
    )
    ctx = EvidenceContext(tmp_path, NEW_FILE, settings)
    tests, coverage = run_tests(ctx, plain_runner(tmp_path, 10))
    assert tests.status is EvidenceStatus.FAILED
    assert coverage.status is EvidenceStatus.PASSED and "not measured" in coverage.output_tail


# ---- coverage only where it is asked for ----

NO_COVERAGE_PROBE = "import sys\n\n\ndef test_unmeasured():\n    assert 'coverage' not in sys.modules\n"


def _probe_repo(root: Path) -> Path:
    (root / "app").mkdir()
    (root / "app" / "x.py").write_text("import os\nx = 1\ny = 2\n")  # NEW_FILE's source file
    (root / "test_probe.py").write_text(NO_COVERAGE_PROBE)
    return root


def test_with_coverage_off_the_tests_run_without_importing_coverage(tmp_path: Path) -> None:
    repo = _probe_repo(tmp_path)
    off = EvidenceSettings.model_validate({"completeness": {"coverage": {"enabled": False}}})
    tests, coverage = run_tests(EvidenceContext(repo, NEW_FILE, off), plain_runner(repo, 60))
    assert tests.status is EvidenceStatus.PASSED, tests.output_tail
    assert "--include" not in (tests.command or [])
    assert (coverage.status, coverage.output_tail) == (
        EvidenceStatus.PASSED,
        "not measured: evidence.completeness.coverage.enabled is false",
    )
    # The control: measured (the default), the same test sees coverage imported and fails.
    on = EvidenceSettings.model_validate({"baseline": {"rerun_failed": False}})  # one run: no flaky pass
    measured, _ = run_tests(EvidenceContext(repo, NEW_FILE, on), plain_runner(repo, 60))
    assert measured.status is EvidenceStatus.FAILED and "--include" in (measured.command or [])


def test_the_rerun_of_failed_tests_does_not_measure_coverage(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    out = "FAILED tests/test_a.py::test_one - AssertionError\n1 failed"
    failing = _pytest_output(out, 1, {})

    def run(argv):
        seen.append(list(argv))
        return failing(argv)

    run_tests(ctx_for(tmp_path), run)
    assert len(seen) == 2 and "--include" in seen[0]  # the change's run measures app/x.py
    assert "--include" not in seen[1] and seen[1][-1] == "tests/test_a.py::test_one"
