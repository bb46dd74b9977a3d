"""Ruff's report is read in full from a file outside the worktree, never from a cut stdout tail."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.evidence.quality import ruff_check
from orchestrator.review.round import round_inputs
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.workflow.wiring import SandboxRunners

from ..sample import SampleRepo

SANDBOX = bwrap_available()


def big_change(sample_repo: SampleRepo) -> str:
    """250 unused imports (F401) and 250 `eval` calls (S307): 500 findings, ~200 KB of ruff JSON."""
    imports = [f"import mod{i}" for i in range(250)]
    evals = [f"v{i} = eval('{i}')" for i in range(250)]
    return sample_repo.commit({"app/big.py": "\n".join(imports + evals) + "\n"}, "a large change")


@pytest.mark.parametrize("sandboxed", [pytest.param(True, id="sandbox"), pytest.param(False, id="plain")])
def test_a_change_with_500_ruff_findings_reports_every_one(sample_repo: SampleRepo, sandboxed: bool) -> None:
    if sandboxed and not SANDBOX:
        pytest.skip("bubblewrap cannot sandbox here")
    head = big_change(sample_repo)
    ctx = round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence
    runners = SandboxRunners(sample_repo.path, True)
    run = runners(120) if sandboxed else plain_runner(sample_repo.path, 120)

    result = ruff_check(ctx, run)

    assert result.status is EvidenceStatus.FAILED, result.reason
    rules = [f.rule for f in result.findings]
    assert len(rules) == 500
    assert rules.count("S307") == 250 and rules.count("F401") == 250
    assert {f.line for f in result.findings if f.rule == "S307"} == set(range(251, 501))
    assert len(result.output_tail) <= ctx.settings.output_tail_chars  # the report stays bounded
    assert not list(sample_repo.path.rglob("ruff.jsonl"))  # nothing was written into the worktree


def test_the_report_folder_is_gone_after_the_run_and_outside_the_worktree(sample_repo: SampleRepo) -> None:
    seen: list[Path] = []

    def run(argv):
        report = Path(argv[argv.index("--output-file") + 1])
        seen.append(report)
        return plain_runner(sample_repo.path, 60)(argv)

    head = big_change(sample_repo)
    ruff_check(round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence, run)
    [report] = seen
    assert not report.is_relative_to(sample_repo.path) and not report.parent.exists()


def test_a_ruff_run_that_writes_no_report_is_an_error_not_a_pass(sample_repo: SampleRepo) -> None:
    from orchestrator.sandbox.bwrap import CommandResult

    head = big_change(sample_repo)
    ctx = round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence
    result = ruff_check(ctx, lambda argv: CommandResult(tuple(argv), 0, "", "", 0.01))
    assert result.status is EvidenceStatus.ERROR and "wrote no report" in (result.reason or "")
