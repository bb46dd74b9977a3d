"""Governance canon: a change that touches the files which govern aios itself.

The canon is what decides how work is governed and reviewed: the task store and the audit trail
(``state/``, ``ops/``), the workflow, persona and prompt files (``workflows/``, ``personas/``,
``prompts/``), aios's local folders (``.aios/``), and the TaskCard of the task under review. A
builder changing them through an ordinary task could rewrite its own review policy, its card's
acceptance criteria or the audit trail, and the change would merge like any other.

So a change touching the canon is a critical finding (rule ``governance-canon``) and the policy
escalates it to a human (``BLOCKED``), unless the task is in the ``governance`` queue: there the
same touches are expected, and reported as ``info`` for whoever merges it. The protected folders
are a constant here, never a setting: the workflow file is itself canon, and no settings file may
shrink the list.
"""

from __future__ import annotations

from orchestrator.review.diff import Diff, FileDiff, FileStatus
from orchestrator.review.evidence._base import EvidenceContext, EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Dimension, Finding, Severity

__all__ = ["CANON_FOLDERS", "GOVERNANCE_CANON", "GOVERNANCE_QUEUE", "canon_check", "canon_paths"]

GOVERNANCE_CANON = "governance-canon"
GOVERNANCE_QUEUE = "governance"
"""The queue whose tasks may change the canon (their merge needs an L1 or L0 member)."""

CANON_FOLDERS: tuple[str, ...] = ("state/", "ops/", "workflows/", "personas/", "prompts/", ".aios/")
"""Folders of the workspace root that are canon; ``state/`` holds the project file too."""

Q = Dimension.QUALITY


def canon_check(ctx: EvidenceContext) -> list[EvidenceResult]:
    """The ``governance-canon`` result for ``ctx``'s change; nothing when it touches no canon.

    Outside the governance queue the result fails with one critical finding per touched file;
    inside it the result passes and each finding is ``info``.
    """
    touched = canon_paths(ctx.diff, card_path=ctx.card_path)
    if not touched:
        return []
    governance = ctx.queue == GOVERNANCE_QUEUE
    findings = [_finding(fd, paths, governance=governance) for fd, paths in touched]
    listed = ", ".join(p for _, paths in touched for p in paths)
    if governance:
        reason = f"governance change: needs an L1 or L0 member to merge ({listed})"
    else:
        reason = f"the change touches governance files outside the governance queue: {listed}"
    return [
        EvidenceResult(
            name=GOVERNANCE_CANON,
            dimension=Q,
            status=EvidenceStatus.PASSED if governance else EvidenceStatus.FAILED,
            reason=reason,
            findings=findings,
        )
    ]


def canon_paths(diff: Diff, *, card_path: str | None = None) -> list[tuple[FileDiff, list[str]]]:
    """Each changed file that touches the canon, with its protected path(s), in diff order.

    Every kind of change counts: an edit, an addition, a deletion, a mode change, and a rename
    whose old or new path is protected (both are named when both are).
    """
    out = []
    for fd in diff:
        paths = [p for p in _paths_of(fd) if is_canon(p, card_path=card_path)]
        if paths:
            out.append((fd, paths))
    return out


def is_canon(path: str, *, card_path: str | None = None) -> bool:
    """True when ``path`` (relative to the workspace root) is canon.

    Compared case-insensitively: on a case-insensitive file system (macOS, Windows) ``Workflows/``
    is the same folder as ``workflows/``.
    """
    folded = path.casefold().removeprefix("./")
    if card_path is not None and folded == card_path.casefold().removeprefix("./"):
        return True
    # CANON_FOLDERS are lower case already.
    return any(folded == c.rstrip("/") or folded.startswith(c) for c in CANON_FOLDERS)


def _paths_of(fd: FileDiff) -> list[str]:
    if fd.status is FileStatus.RENAMED and fd.old_path and fd.old_path != fd.path:
        return [fd.old_path, fd.path]
    return [fd.path]


def _finding(fd: FileDiff, paths: list[str], *, governance: bool) -> Finding:
    what = _what(fd, paths)
    if governance:
        return Finding(
            dimension=Q,
            severity=Severity.INFO,
            file=fd.path,
            rule=GOVERNANCE_CANON,
            message=f"governance change: {what}; needs an L1 or L0 member to merge",
            source=GOVERNANCE_CANON,
        )
    return Finding(
        dimension=Q,
        severity=Severity.CRITICAL,
        file=fd.path,
        rule=GOVERNANCE_CANON,
        message=f"the change {what}: governance files change only through a governance-queue task",
        suggestion="revert it in the task branch, or make the change a task in the governance queue",
        source=GOVERNANCE_CANON,
    )


def _what(fd: FileDiff, paths: list[str]) -> str:
    if fd.status is FileStatus.RENAMED:
        return f"renames {fd.old_path} to {fd.path}"
    verb = {FileStatus.ADDED: "adds", FileStatus.DELETED: "deletes"}.get(fd.status, "modifies")
    return f"{verb} {paths[0]}"
