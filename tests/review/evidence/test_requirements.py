"""R: each acceptance criterion's check command passes, fails, cannot run, or awaits judgement."""

from __future__ import annotations

from pathlib import Path

from helpers import plain_runner

from orchestrator.review.evidence import EvidenceContext, EvidenceStatus
from orchestrator.review.evidence.requirements import collect_requirements
from orchestrator.review.findings import Severity
from orchestrator.review.settings import EvidenceSettings
from orchestrator.state.taskcard import Criterion

from .fakes import NEW_FILE, ctx_for, fake


def test_acceptance_checks_pass_fail_and_unchecked(tmp_path: Path) -> None:
    criteria = [
        Criterion(id="AC1", text="passes", check="true"),
        Criterion(id="AC2", text="fails", check="python -c 'import sys; sys.exit(\"nope\")'"),
        Criterion(id="AC3", text="needs judgement"),
    ]
    results = collect_requirements(ctx_for(tmp_path, criteria=criteria), plain_runner(tmp_path, 10))
    status = {r.name: r.status for r in results}
    assert status == {
        "acceptance:AC1": EvidenceStatus.PASSED,
        "acceptance:AC2": EvidenceStatus.FAILED,
        "acceptance:unchecked": EvidenceStatus.PASSED,
    }
    failed = results[1]
    assert failed.output_tail == "nope"
    assert failed.findings[0].rule == "acceptance:AC2" and "exited with 1" in (
        failed.findings[0].suggestion or ""
    )
    assert results[2].findings[0].severity is Severity.INFO


def test_a_check_whose_command_is_missing_is_an_error(tmp_path: Path) -> None:
    criteria = [Criterion(id="AC1", text="t", check="no-such-tool --check")]
    [result] = collect_requirements(ctx_for(tmp_path, criteria=criteria), plain_runner(tmp_path, 10))
    assert result.status is EvidenceStatus.ERROR and "exit 127" in (result.reason or "")


def test_an_unparsable_check_is_an_error(tmp_path: Path) -> None:
    criteria = [Criterion(id="AC1", text="t", check="pytest 'unbalanced")]
    [result] = collect_requirements(ctx_for(tmp_path, criteria=criteria), fake())
    assert result.status is EvidenceStatus.ERROR and "cannot parse" in (result.reason or "")


def test_checks_run_through_a_shell_when_configured(tmp_path: Path) -> None:
    settings = EvidenceSettings.model_validate({"requirements": {"shell": ["sh", "-c"]}})
    criteria = [Criterion(id="AC1", text="t", check="true && echo piped | tr a-z A-Z")]
    ctx = EvidenceContext(tmp_path, NEW_FILE, settings, criteria)
    [result] = collect_requirements(ctx, plain_runner(tmp_path, 10))
    assert result.status is EvidenceStatus.PASSED and result.output_tail == "PIPED"
