"""One review round: each dimension's check, then the round's verdict, from inputs computed once.

The graph runs ``check`` once per dimension (four parallel nodes) and ``conclude`` once; the static
reviewer (``review_static``) is the same round with no panel of persona models.

    inputs = round_inputs(worktree, base=base, head=head, criteria=card.acceptance_criteria, ...)
    results = [check(d, inputs, runners, panel=panel) for d in Dimension]
    outcome = conclude(inputs, results, settings.policy)
"""

from __future__ import annotations

import functools
import logging
import shlex
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.redact import mask_secrets
from orchestrator.review.contradicted import drop_contradicted
from orchestrator.review.diff import Diff, commit_messages, delta_since, git_diff, render_numbered
from orchestrator.review.evidence import (
    EvidenceContext,
    EvidenceResult,
    RunnerFactory,
    collect_dimension,
    each_dimension,
    evidence_findings,
    scan_secrets,
    timeout_for,
    unchecked_criteria,
)
from orchestrator.review.findings import Dimension, Finding
from orchestrator.review.policy import Verdict, decide
from orchestrator.review.reviewer import Panel, ask_panel
from orchestrator.review.settings import PolicySettings, ReviewSettings
from orchestrator.review.tracking import rereview_view, track
from orchestrator.sandbox import git
from orchestrator.state.taskcard import Criterion

#: ``aios -v`` shows its INFO records: each evidence check's command, outcome and duration.
log = logging.getLogger("orchestrator.review")

__all__ = [
    "CheckResult",
    "RoundInputs",
    "RoundOutcome",
    "change_text",
    "check",
    "conclude",
    "review_static",
    "round_inputs",
    "sort_findings",
]


@dataclass(frozen=True)
class RoundInputs:
    """What every check of one round reads: the change, its delta since the last review, the card."""

    evidence: EvidenceContext
    """The worktree, the diff, the commit messages, the TaskCard's criteria and text, the settings."""
    base: str
    head: str
    since: str | None = None
    """The commit the previous round reviewed (round 2 on)."""
    delta: Diff | None = None
    """The change since ``since``: what the builder did in answer to the last round."""
    previous: tuple[Finding, ...] = ()
    """The previous round's findings."""
    dismissed: frozenset[str] = frozenset()
    """Ids (``Finding.fingerprint``) of findings a member dismissed for this task: not raised again."""

    @property
    def diff(self) -> Diff:
        return self.evidence.diff


def _shared_view(
    worktree: Path, base: str, head: str, since: str | None
) -> tuple[Diff, tuple[str, ...], Diff | None]:
    # The graph starts a round's four checks at once: without the lock each would find the cache
    # empty and run the same git diff and log, four processes competing with the evidence commands.
    with _view_lock(worktree, base, head, since):
        return _git_view(worktree, base, head, since)


@functools.lru_cache(maxsize=16)
def _view_lock(worktree: Path, base: str, head: str, since: str | None) -> threading.Lock:
    return threading.Lock()


@functools.lru_cache(maxsize=16)
def _git_view(
    worktree: Path, base: str, head: str, since: str | None
) -> tuple[Diff, tuple[str, ...], Diff | None]:
    # Commit ids never change, so the four checks and the verdict of a round (and a resumed node)
    # share one diff, one log and one delta per process instead of computing each five times.
    delta = delta_since(worktree, since, head) if since else None
    return git_diff(worktree, base, head), tuple(commit_messages(worktree, base, head)), delta


@functools.lru_cache(maxsize=16)
def _shared_memo(
    worktree: Path, base: str, head: str, settings_id: int
) -> tuple[dict[str, Any], threading.Lock]:
    # The graph asks for a round's inputs once per check node: sharing the memo lets the four
    # checks of a round run the secrets scan once between them (``EvidenceContext.once``).
    return {}, threading.Lock()


def round_inputs(
    worktree: Path,
    *,
    base: str,
    head: str,
    settings: ReviewSettings | None = None,
    criteria: Sequence[Criterion] = (),
    card_text: str = "",
    test_paths: Sequence[str] = (),
    since: str | None = None,
    previous: Iterable[Finding] = (),
    card_path: str | None = None,
    queue: str | None = None,
    dismissed: Iterable[str] = (),
    baseline_dir: Path | None = None,
) -> RoundInputs:
    """The inputs of the round reviewing ``base..head`` (commit ids, or refs resolved here).

    ``card_path`` (the TaskCard's file, relative to the workspace root) and ``queue`` (the task's)
    tell the ``governance-canon`` check what the task may change; ``dismissed`` names the findings
    members dismissed for the task; ``baseline_dir`` (outside the worktree) caches the merge
    base's check results across rounds and tasks.
    """
    base, head = git.head(worktree, base), git.head(worktree, head)
    diff, messages, delta = _shared_view(worktree, base, head, since)
    settings = settings or ReviewSettings()
    memo, lock = _shared_memo(worktree, base, head, id(settings.evidence))
    evidence = EvidenceContext(
        worktree,
        diff,
        settings.evidence,
        criteria,
        test_paths,
        messages=messages,
        card_text=card_text,
        card_path=card_path,
        queue=queue,
        base=base,
        baseline_dir=baseline_dir,
        _memo=memo,
        _memo_lock=lock,
    )
    return RoundInputs(evidence, base, head, since, delta, tuple(previous), frozenset(dismissed))


class CheckResult(BaseModel):
    """The outcome of one dimension's check in one round."""

    model_config = ConfigDict(extra="forbid")

    dimension: Dimension
    evidence: list[EvidenceResult] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    dropped_ungrounded: int = 0
    errors: list[str] = Field(default_factory=list)
    """Reviewer failures (provider errors, garbage answers): each blocks the verdict."""

    @field_validator("errors")
    @classmethod
    def _masked(cls, errors: list[str]) -> list[str]:
        return [mask_secrets(e) for e in errors]


def _log_evidence(evidence: Sequence[EvidenceResult]) -> None:
    for e in evidence:
        ran = shlex.join(e.command) if e.command else "in process"
        why = f" ({e.reason})" if e.reason else ""
        log.info(
            "check %s %s: %s in %.2fs: %s%s",
            e.dimension.value,
            e.name,
            e.status.value,
            e.duration_s,
            ran,
            why,
        )


def check(
    dimension: Dimension, inputs: RoundInputs, runners: RunnerFactory, *, panel: Panel | None = None
) -> CheckResult:
    """``dimension``'s evidence, then (with a ``panel``) each persona model's review of it."""
    ctx = inputs.evidence
    if panel is not None and dimension is not Dimension.QUALITY:
        # Register the change's secrets with the redactor before this dimension's prompts are built.
        scan_secrets(ctx, runners(timeout_for(ctx, Dimension.QUALITY)))
    evidence = collect_dimension(ctx, dimension, runners)
    _log_evidence(evidence)
    result = CheckResult(dimension=dimension, evidence=evidence, findings=evidence_findings(evidence))
    if panel is None:
        return result
    asked = ask_panel(
        panel,
        dimension,
        diff=inputs.diff,
        evidence=evidence,
        worktree=ctx.worktree,
        change=change_text(inputs, dimension),
    )
    result.findings.extend(asked.findings)
    result.dropped_ungrounded += asked.dropped
    result.errors.extend(asked.errors)
    return result


def change_text(inputs: RoundInputs, dimension: Dimension) -> str:
    """What the panel reads of the change: all of it (round 1), or the delta and the open findings."""
    if inputs.since is None or inputs.delta is None:
        return "## The change (new-side line numbers)\n" + (render_numbered(inputs.diff) or "(empty)")
    previous = [
        f for f in inputs.previous if f.dimension is dimension and f.fingerprint not in inputs.dismissed
    ]
    return rereview_view(previous, inputs.delta, since=inputs.since, head=inputs.head).render()


class RoundOutcome(BaseModel):
    """What a round decided and why: the verdict by policy, every finding worst first, the evidence."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    reasons: list[str]
    base: str
    head: str
    findings: list[Finding] = Field(default_factory=list)
    evidence: list[EvidenceResult] = Field(default_factory=list)
    dropped_ungrounded: int = 0
    errors: list[str] = Field(default_factory=list)
    resolved: list[Finding] = Field(default_factory=list)
    """Findings of the previous round that are gone: what the builder fixed."""
    new_count: int = 0
    open_count: int = 0
    unchecked_criteria: list[str] = Field(default_factory=list)
    """Ids of acceptance criteria without a check: only a model or a human can judge them."""
    dropped_contradicted: int = 0
    """Model findings the evidence contradicts (``orchestrator.review.contradicted``), dropped."""
    dismissed: list[Finding] = Field(default_factory=list)
    """Findings a member dismissed for this task (``aios review dismiss``): shown, never counted."""

    @field_validator("reasons", "errors")
    @classmethod
    def _masked(cls, lines: list[str]) -> list[str]:
        return [mask_secrets(line) for line in lines]

    def summary(self) -> dict[str, Any]:
        """What ``--reviewer static --json`` prints: verdict, reasons, findings, checks."""
        keys = ("dimension", "severity", "file", "line", "rule", "message")
        return {
            "verdict": self.verdict.value,
            "reasons": self.reasons,
            "findings": [f.model_dump(mode="json", include=set(keys)) for f in self.findings],
            "checks": [{"name": r.name, "status": r.status.value, "reason": r.reason} for r in self.evidence],
            "unchecked_criteria": self.unchecked_criteria,
        }


def conclude(inputs: RoundInputs, results: Iterable[CheckResult], policy: PolicySettings) -> RoundOutcome:
    """The round's verdict by ``policy`` from its checks, and how its findings track the last round's."""
    results = list(results)
    evidence = [e for r in results for e in r.evidence]
    kept, contradicted = drop_contradicted((f for r in results for f in r.findings), evidence)
    findings = sort_findings(f for f in kept if f.fingerprint not in inputs.dismissed)
    dismissed = sort_findings(f for f in kept if f.fingerprint in inputs.dismissed)
    errors = [e for r in results for e in r.errors]
    decision = decide(findings, evidence, settings=policy, errors=errors)
    # A finding dismissed since the last round was not fixed: it leaves the tracking, not "resolved".
    previous = [f for f in inputs.previous if f.fingerprint not in inputs.dismissed]
    tracking = track(previous, findings, delta=inputs.delta)
    return RoundOutcome(
        verdict=decision.verdict,
        reasons=decision.reasons,
        base=inputs.base,
        head=inputs.head,
        findings=findings,
        evidence=evidence,
        dropped_ungrounded=sum(r.dropped_ungrounded for r in results),
        errors=errors,
        resolved=tracking.resolved,
        new_count=len(tracking.new),
        open_count=len(tracking.open),
        unchecked_criteria=[c.id for c in unchecked_criteria(inputs.evidence.criteria)],
        dropped_contradicted=len(contradicted),
        dismissed=dismissed,
    )


def review_static(
    worktree: Path,
    *,
    base: str,
    head: str = "HEAD",
    runners: RunnerFactory,
    criteria: Sequence[Criterion] = (),
    task_body: str = "",
    settings: ReviewSettings | None = None,
    test_paths: Sequence[str] = (),
    concurrent: bool = True,
    card_path: str | None = None,
    queue: str | None = None,
    baseline_dir: Path | None = None,
) -> RoundOutcome:
    """Review the change ``base..head`` in ``worktree`` on evidence alone: a round with no panel.

    Args:
        worktree: the task's worktree, checked out at ``head``.
        base: where the task branch started (``diff.merge_base(repo, "main")``).
        head: the commit under review.
        runners: binds each dimension's time limit into a ``Runner`` (sandbox or plain).
        criteria: the TaskCard's acceptance criteria (``id``, ``text``, ``check``).
        task_body: the TaskCard's text, scanned for instructions aimed at the reviewer.
        settings: the review's workflow settings; defaults when None.
        test_paths: test files or folders the TaskCard names; empty runs the whole suite.
        concurrent: run the four dimensions in parallel threads.
        card_path: the TaskCard's file, relative to the workspace root (canon for this task).
        queue: the task's queue; only in ``governance`` may the change touch the canon.
        baseline_dir: where the merge base's check results are cached (outside the worktree).
    """
    settings = settings or ReviewSettings()
    inputs = round_inputs(
        worktree,
        base=base,
        head=head,
        settings=settings,
        criteria=criteria,
        card_text=task_body,
        test_paths=test_paths,
        card_path=card_path,
        queue=queue,
        baseline_dir=baseline_dir,
    )
    results = each_dimension(lambda d: check(d, inputs, runners), concurrent=concurrent)
    return conclude(inputs, results, settings.policy)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by file and line."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.file or "", f.line or 0, f.rule or ""))
