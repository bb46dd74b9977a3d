"""Ruff's report is read in full from a file outside the worktree, never from a cut stdout tail."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.evidence.quality import ruff_check
from orchestrator.review.round import round_inputs
from orchestrator.sandbox.bwrap import CommandResult, bwrap_available
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


class Recording:
    """A reporting runner that records where the report goes, then runs (or does nothing)."""

    def __init__(self, reports: Path, real=None) -> None:
        self.reports, self.real, self.seen = reports, real, []

    def __call__(self, argv):
        self.seen.append(Path(argv[argv.index("--output-file") + 1]))
        return self.real(argv) if self.real else CommandResult(tuple(argv), 0, "", "", 0.01)


def test_the_report_folder_is_fresh_outside_the_worktree_and_gone(sample_repo: SampleRepo, tmp_path) -> None:
    run = Recording(tmp_path, plain_runner(sample_repo.path, 60))
    head = big_change(sample_repo)
    result = ruff_check(round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence, run)
    [report] = run.seen
    assert len(result.findings) == 500
    assert report.parent.parent == tmp_path and not report.is_relative_to(sample_repo.path)
    assert not report.parent.exists()


def test_a_ruff_run_that_writes_no_report_is_an_error_not_a_pass(sample_repo: SampleRepo, tmp_path) -> None:
    head = big_change(sample_repo)
    ctx = round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence
    result = ruff_check(ctx, Recording(tmp_path))
    assert result.status is EvidenceStatus.ERROR and "wrote no report" in (result.reason or "")


def test_without_a_reports_folder_a_cut_stdout_is_an_error(sample_repo: SampleRepo) -> None:
    head = big_change(sample_repo)
    ctx = round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence
    plain = plain_runner(sample_repo.path, 60)
    result = ruff_check(ctx, lambda argv: plain(argv))  # a bare callable: stdout, 64 KiB tail
    assert result.status is EvidenceStatus.ERROR and "could not be read" in (result.reason or "")
