"""Dimension R: run each acceptance criterion's ``check`` command and record pass or fail."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from orchestrator.review.evidence._base import (
    EvidenceContext,
    EvidenceResult,
    EvidenceStatus,
    Runner,
    attempt,
    error_result,
    from_attempt,
    guarded,
)
from orchestrator.review.findings import Dimension, Finding
from orchestrator.state.taskcard import Criterion

R = Dimension.REQUIREMENTS


def collect_requirements(ctx: EvidenceContext, run: Runner) -> list[EvidenceResult]:
    """One result per criterion with a check, plus one listing the criteria left to the model."""
    results = [
        result
        for criterion in ctx.criteria
        if criterion.check
        for result in guarded(
            f"acceptance:{criterion.id}", R, lambda c=criterion: [run_acceptance_check(ctx, run, c)]
        )
    ]
    unchecked = unchecked_criteria(ctx.criteria)
    if unchecked:
        results.append(_unchecked_result(ctx, unchecked))
    return results


def run_acceptance_check(ctx: EvidenceContext, run: Runner, criterion: Criterion) -> EvidenceResult:
    """Run one criterion's check in the worktree; exit 0 passes, any other exit fails."""
    name = f"acceptance:{criterion.id}"
    check = (criterion.check or "").strip()
    argv = check_argv(check, ctx.settings.requirements.shell)
    if argv is None:
        return error_result(name, R, f"cannot parse the check command {check!r}: unbalanced quotes?")
    att = attempt(run, argv)
    tail = ctx.settings.output_tail_chars
    if att.reason or att.returncode == 0:
        return from_attempt(name, R, att, tail_chars=tail)
    finding = Finding(
        dimension=R,
        severity=ctx.settings.requirements.failed_severity,
        rule=name,
        message=f"acceptance criterion {criterion.id} fails its check `{check}`: {criterion.text}",
        suggestion=f"make `{check}` pass (it exited with {att.returncode})",
        source="acceptance",
    )
    return from_attempt(name, R, att, tail_chars=tail, findings=[finding])


def check_argv(check: str, shell: Sequence[str]) -> list[str] | None:
    """The argv for a check string: split like a POSIX shell (no shell runs), or given to ``shell``.

    None when the string cannot be split (unbalanced quotes) or is empty.
    """
    if shell:
        return [*shell, check] if check else None
    try:
        return shlex.split(check) or None
    except ValueError:
        return None


def unchecked_criteria(criteria: Iterable[Criterion]) -> list[Criterion]:
    """Criteria without a check command: the model reviews them against the diff."""
    return [c for c in criteria if not c.check]


def _unchecked_result(ctx: EvidenceContext, unchecked: list[Criterion]) -> EvidenceResult:
    severity = ctx.settings.requirements.unchecked_severity
    findings = [
        Finding(
            dimension=R,
            severity=severity,
            rule=f"acceptance-unchecked:{c.id}",
            message=f"acceptance criterion {c.id} has no check command; review it against the diff: {c.text}",
            source="acceptance",
        )
        for c in unchecked
    ]
    listing = "\n".join(f"{c.id}: {c.text}" for c in unchecked)
    # Passed, not failed: nothing was found wrong. The findings (info by default) say what is unverified.
    return EvidenceResult(
        name="acceptance:unchecked",
        dimension=R,
        status=EvidenceStatus.PASSED,
        output_tail=listing,
        findings=findings,
    )
