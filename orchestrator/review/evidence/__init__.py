"""Evidence: checks that run before any model sees the change, one collector per dimension.

Q ``quality``: ruff (correctness and ``S`` security rules) and bandit for the security checks ruff
lacks (``_bandit``: one finding per issue), secrets on the added lines, nested
repositories, and changes to the governance canon (``canon``: a constant, not a setting).
R ``requirements``: each acceptance criterion's ``check`` command.
C ``completeness``: the tests, coverage of the changed lines, whether tests changed at all.
O ``optimization``: complexity of changed functions, duplicated blocks, size of the change.

Every command goes through an injected ``Runner``: `orchestrator.sandbox.bwrap.run_command`
bound to the task's worktree (sandboxed unless the user passed ``--no-sandbox``). R's and C's
commands are the project's own: they run in the project's Python environment when the runner
factory offers one (`ProjectRunners`, see ``orchestrator.sandbox.environment``). A check that
cannot run is an ``error`` result with the reason; the policy blocks on it. Nothing is ever a
silent pass.

Tools write their structured reports (ruff JSON, pytest junit XML, coverage JSON) into a folder
outside the worktree the runner offers (`ReportingRunner`), read in full: never parsed from the
kept tail of stdout. R's and C's commands run with the target branch's test configuration and hook
files (``testconfig.checks_view``); a change to them is a ``test-config-changed`` finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeAlias, TypeVar

from orchestrator.review.evidence._base import (
    EvidenceContext,
    EvidenceResult,
    EvidenceStatus,
    ProjectRunners,
    RelocatableRunners,
    ReportingRunner,
    Runner,
    RunnerFactory,
    error_result,
    project_runner,
)
from orchestrator.review.evidence.baseline import apply_baseline
from orchestrator.review.evidence.completeness import collect_completeness
from orchestrator.review.evidence.injection import output_injection
from orchestrator.review.evidence.optimization import collect_optimization
from orchestrator.review.evidence.quality import collect_quality, scan_secrets
from orchestrator.review.evidence.requirements import collect_requirements, unchecked_criteria
from orchestrator.review.evidence.testconfig import ChecksViewError, checks_view
from orchestrator.review.findings import Dimension, Finding

__all__ = [
    "COLLECTORS",
    "Collector",
    "EvidenceContext",
    "EvidenceResult",
    "EvidenceStatus",
    "ProjectRunners",
    "RelocatableRunners",
    "ReportingRunner",
    "Runner",
    "RunnerFactory",
    "collect_dimension",
    "gather_evidence",
    "each_dimension",
    "project_runner",
    "evidence_findings",
    "render_evidence",
    "support_paths",
    "scan_secrets",
    "timeout_for",
    "unchecked_criteria",
]

T = TypeVar("T")

Fence: TypeAlias = Callable[[str, str], str]
"""Wraps untrusted text for a prompt: ``(label, text) -> block``."""

Collector: TypeAlias = Callable[[EvidenceContext, Runner], list[EvidenceResult]]
"""Gathers one dimension's evidence with a runner bound to that dimension's time limit."""

COLLECTORS: dict[Dimension, Collector] = {
    Dimension.QUALITY: collect_quality,
    Dimension.REQUIREMENTS: collect_requirements,
    Dimension.COMPLETENESS: collect_completeness,
    Dimension.OPTIMIZATION: collect_optimization,
}

PROJECT_DIMENSIONS = frozenset({Dimension.REQUIREMENTS, Dimension.COMPLETENESS})
"""Dimensions whose commands are the project's own (tests, acceptance checks): they run in the
project's Python environment (`project_runner`); the others run aios's tools in aios's."""


def support_paths() -> list[Path]:
    """Files the evidence commands read from aios itself (the coverage driver, the secrets plugin).

    A sandbox that hides the folder aios is installed in must bind these read-only.
    """
    return [Path(__file__).resolve().parent]


def timeout_for(ctx: EvidenceContext, dimension: Dimension) -> float:
    """The per-command time limit the settings give ``dimension``."""
    s = ctx.settings
    section = {
        Dimension.QUALITY: s.quality,
        Dimension.REQUIREMENTS: s.requirements,
        Dimension.COMPLETENESS: s.completeness,
        Dimension.OPTIMIZATION: s.optimization,
    }[dimension]
    return float(section.timeout_s)


def collect_dimension(
    ctx: EvidenceContext, dimension: Dimension, runners: RunnerFactory
) -> list[EvidenceResult]:
    """One dimension's evidence; a crash anywhere becomes an ``error`` result, never an exception.

    This is what a graph node for a single check calls.
    """
    timeout = timeout_for(ctx, dimension)
    try:
        if dimension in PROJECT_DIMENSIONS:
            results = _collect_project(ctx, dimension, runners, timeout)
        else:
            results = COLLECTORS[dimension](ctx, runners(timeout))
        # What the target branch already had is the change's to see, not to fix (``baseline``).
        results = apply_baseline(ctx, dimension, results, runners, timeout)
        # The model reads the checks' output, which the code under review controls (a test can print).
        return results + output_injection(results, settings=ctx.settings.quality.injection)
    except ChecksViewError as exc:
        return [error_result(dimension.name.lower(), dimension, str(exc))]
    except Exception as exc:  # noqa: BLE001 - an evidence crash must block the verdict, not vanish
        return [
            error_result(
                dimension.name.lower(), dimension, f"collecting crashed: {type(exc).__name__}: {exc}"
            )
        ]


def _collect_project(
    ctx: EvidenceContext, dimension: Dimension, runners: RunnerFactory, timeout: float
) -> list[EvidenceResult]:
    """The project's own commands run with the target branch's test configuration and hook files
    (`checks_view`), so a change cannot make its failing checks pass by editing them."""
    with checks_view(ctx) as view:
        if view is not ctx:
            if not isinstance(runners, RelocatableRunners):
                raise ChecksViewError(
                    "the change edits test configuration and these runners cannot run the checks "
                    "in a copy with the target branch's versions"
                )
            runners = runners.at(view.worktree)
        return COLLECTORS[dimension](view, project_runner(runners, timeout))


def gather_evidence(
    ctx: EvidenceContext,
    runners: RunnerFactory,
    *,
    dimensions: Iterable[Dimension] = tuple(Dimension),
    concurrent: bool = True,
) -> list[EvidenceResult]:
    """Gather the evidence of several dimensions, concurrently by default (one thread each).

    Args:
        ctx: the change and settings.
        runners: binds a time limit into a ``Runner`` (e.g. the sandbox for the task's worktree).
        dimensions: which dimensions to collect.
        concurrent: False runs them one after another (benchmarks, debugging).

    Example:
        >>> def runners(timeout_s: float) -> Runner:
        ...     return partial(run_command, worktree=wt, limits=Limits(timeout_s=timeout_s))
        >>> results = gather_evidence(ctx, runners)
    """
    per_dimension = each_dimension(
        lambda d: collect_dimension(ctx, d, runners), dimensions, concurrent=concurrent
    )
    return [r for results in per_dimension for r in results]


def each_dimension(
    work: Callable[[Dimension], T],
    dimensions: Iterable[Dimension] = tuple(Dimension),
    *,
    concurrent: bool = True,
) -> list[T]:
    """``work(d)`` for each dimension, in order; in parallel threads unless ``concurrent`` is False."""
    dims = list(dimensions)
    if not concurrent:
        return [work(d) for d in dims]
    # Evidence is mostly waiting on subprocesses, so threads overlap well even on two cores.
    with ThreadPoolExecutor(max_workers=len(dims) or 1, thread_name_prefix="evidence") as pool:
        return list(pool.map(work, dims))


def evidence_findings(results: Iterable[EvidenceResult]) -> list[Finding]:
    """All findings of the results, in order."""
    return [f for r in results for f in r.findings]


def render_evidence(
    results: Iterable[EvidenceResult], *, tail_lines: int = 15, fence: Fence | None = None
) -> str:
    """The evidence as a model reviewer reads it: one block per check, status first.

    Args:
        fence: wraps each output tail (label, text), e.g. in a labelled untrusted block.
    """
    blocks = []
    for r in results:
        head = f"[{r.dimension.value}] {r.name}: {r.status.value.upper()}"
        head += f" ({r.reason})" if r.reason else ""
        lines = [head, *(f"  - {f.severity.value} {f.summary()}" for f in r.findings)]
        if r.status is not EvidenceStatus.PASSED and r.output_tail:
            tail = r.output_tail.splitlines()[-tail_lines:]
            if fence is not None:
                lines += ["  output (tail):", fence(f"check output of {r.name}", "\n".join(tail))]
            else:
                lines += ["  output (tail):", *("    " + ln for ln in tail)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
