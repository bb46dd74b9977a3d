"""Incremental re-review: findings tracked across rounds as open, resolved or new.

Identity is ``Finding.fingerprint`` (dimension, file, rule, normalised message), so a finding
keeps its id when lines shift. Before matching, the previous round's findings are carried
through the delta since the last reviewed commit: a renamed file gets its new path and each
line moves to where it ended up.

From round 2 on, the model reads only that delta plus the open findings (``rereview_view``) and
re-reports each open finding that still holds. Evidence is recomputed in full every round. So a
previous finding nobody reports again is resolved: that is what the builder fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.review.diff import Diff, FileDiff, FileStatus, map_line, render_numbered
from orchestrator.review.findings import Finding


class Tracking(BaseModel):
    """How this round's findings relate to the previous round's."""

    model_config = ConfigDict(frozen=True)

    open: list[Finding] = Field(default_factory=list)
    """Reported in both rounds (at this round's location)."""
    resolved: list[Finding] = Field(default_factory=list)
    """Reported last round, gone now: what the builder fixed (as reported last round)."""
    new: list[Finding] = Field(default_factory=list)
    """First reported this round."""

    def state_of(self, finding: Finding) -> str | None:
        """``open``, ``resolved`` or ``new`` for a finding of either round, by fingerprint."""
        for state in ("open", "new", "resolved"):
            if any(f.fingerprint == finding.fingerprint for f in getattr(self, state)):
                return state
        return None


def carry(previous: Iterable[Finding], delta: Diff | None) -> list[Finding]:
    """Previous findings moved through ``delta``: renamed paths followed, lines shifted.

    A finding whose line the delta removed keeps its file but loses its line.
    """
    if delta is None:
        return list(previous)
    renames = {fd.old_path: fd for fd in delta if fd.status is FileStatus.RENAMED and fd.old_path}
    return [_move(f, delta, renames) for f in previous]


def _move(f: Finding, delta: Diff, renames: dict[str, FileDiff]) -> Finding:
    if f.file is None:
        return f
    renamed = renames.get(f.file)
    fd = renamed or delta.get(f.file)
    path = renamed.path if renamed else f.file
    line = map_line(fd, f.line) if f.line is not None else None
    return f if (path, line) == (f.file, f.line) else f.model_copy(update={"file": path, "line": line})


def track(previous: Iterable[Finding], current: Iterable[Finding], *, delta: Diff | None = None) -> Tracking:
    """Classify findings as open, resolved or new by fingerprint.

    Several findings can share a fingerprint (the same rule twice in a file); they pair up by
    nearest line, and the surplus on either side is resolved or new.

    Args:
        previous: last round's findings.
        current: this round's findings.
        delta: the change since the last reviewed commit, to follow renames and shifted lines.
    """
    previous = list(previous)
    pool: defaultdict[str, list[tuple[Finding, Finding]]] = defaultdict(list)
    for original, moved in zip(previous, carry(previous, delta), strict=True):
        pool[moved.fingerprint].append((original, moved))
    still, new = [], []
    for f in current:
        candidates = pool.get(f.fingerprint)
        if candidates:
            candidates.remove(min(candidates, key=lambda pair: _distance(pair[1], f)))
            still.append(f)
        else:
            new.append(f)
    resolved = [original for group in pool.values() for original, _ in group]
    return Tracking(open=still, resolved=resolved, new=new)


def _distance(a: Finding, b: Finding) -> int:
    if a.line is None or b.line is None:
        return 0 if a.line == b.line else 1_000_000
    return abs(a.line - b.line)


@dataclass(frozen=True)
class RereviewView:
    """What the model reads in round 2 and later instead of the whole change."""

    since: str
    """The last reviewed commit."""
    head: str
    delta: Diff
    open_findings: list[Finding]

    def render(self, *, max_diff_lines: int | None = None) -> str:
        """The prompt section: the numbered delta, then the open findings to re-check."""
        findings = (
            "\n".join(f"- [{f.fingerprint}] {f.severity.value} {f.summary()}" for f in self.open_findings)
            or "(none)"
        )
        return (
            f"## Changes since the last reviewed commit ({self.since[:12]}..{self.head[:12]})\n"
            f"{render_numbered(self.delta, max_lines=max_diff_lines) or '(no changes)'}\n\n"
            "## Open findings from the previous round\n"
            "Report again each one that still holds; one you do not report counts as resolved.\n"
            f"{findings}"
        )


def rereview_view(
    previous: Iterable[Finding],
    delta: Diff,
    *,
    since: str,
    head: str,
    current_evidence: Sequence[Finding] | None = None,
) -> RereviewView:
    """Build the round-2+ view: the delta and the previous findings still open.

    Args:
        previous: last round's findings (evidence and model).
        delta: ``diff.delta_since(repo, since, head)``.
        since: the last reviewed commit.
        head: the commit under review now.
        current_evidence: this round's evidence findings; previous evidence findings missing from
            it are already resolved and left out.
    """
    carried = carry(previous, delta)
    if current_evidence is not None:
        live = {f.fingerprint for f in current_evidence}
        carried = [f for f in carried if f.source == "model" or f.fingerprint in live]
    return RereviewView(since=since, head=head, delta=delta, open_findings=carried)
