"""Spec change requests: ``ops/proposals/<date>-PROP-NNNN.md``, pending until the authority decides.

A proposal names the spec files it would change and, optionally, the queue whose specs they are
(``governance``: framework changes, decided by an L1 platform engineer; otherwise an L2 project
lead decides, as the operating model's roles say). Accepting or rejecting one records who, when
and why in its front matter; a decided proposal is never decided again.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from orchestrator._files import atomic_write
from orchestrator._lock import exclusive
from orchestrator.errors import StateError
from orchestrator.state import _frontmatter
from orchestrator.state._frontmatter import Record
from orchestrator.state.records import now
from orchestrator.state.workspace import Workspace

PREFIX = "PROP"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Proposal(Record):
    """A spec change request (``aios proposal new``)."""

    title: str = Field(min_length=1, max_length=200)
    queue: str | None = None
    """The queue whose specs it changes; ``governance`` needs an L1 member to decide it."""
    specs: list[str] = Field(default_factory=list)
    """The spec files it would change (paths relative to the workspace root)."""
    status: ProposalStatus = ProposalStatus.PENDING
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None

    @model_validator(mode="after")
    def _decided_fields(self) -> Self:
        decided = self.status is not ProposalStatus.PENDING
        if decided and (self.decided_by is None or self.decided_at is None):
            raise ValueError(
                f"a {self.status.value} proposal names who decided it: set decided_by and decided_at"
            )
        if not decided and (self.decided_by is not None or self.decided_at is not None):
            raise ValueError("a pending proposal has no decided_by or decided_at: remove them")
        return self


def new(
    ws: Workspace,
    *,
    title: str,
    by: str,
    body: str = "",
    queue: str | None = None,
    specs: list[str] | None = None,
) -> Proposal:
    """Write a new pending proposal; returns it."""
    record, _ = _frontmatter.create(
        ws.proposals_dir,
        PREFIX,
        lambda rid: _frontmatter.validated(
            Proposal,
            {
                "id": rid,
                "at": now(),
                "by": by,
                "title": title,
                "body": body,
                "queue": queue,
                "specs": specs or [],
            },
        ),
    )
    return record


def all_proposals(ws: Workspace) -> list[Proposal]:
    """Every proposal, oldest first."""
    return _frontmatter.all_records(Proposal, ws.proposals_dir, PREFIX, rel=ws.rel)


def get(ws: Workspace, record_id: str) -> Proposal:
    """One proposal by id.

    Raises:
        StateError: no such proposal, or its file is broken.
    """
    path = _path(ws, record_id)
    return _frontmatter.load(Proposal, path, rel=ws.rel(path))


def decide(ws: Workspace, record_id: str, status: ProposalStatus, *, by: str, reason: str) -> Proposal:
    """Accept or reject a pending proposal (under the state lock, re-read first).

    Raises:
        StateError: no such proposal, or it was decided already.
    """
    path = _path(ws, record_id)
    with exclusive(ws.state_lock):
        proposal = _frontmatter.load(Proposal, path, rel=ws.rel(path))
        if proposal.status is not ProposalStatus.PENDING:
            raise StateError(
                f"{record_id} was {proposal.status.value} by {proposal.decided_by} at {proposal.decided_at}",
                file=ws.rel(path),
                fix="a decided proposal stays decided: write a new one (`aios proposal new`) to ask again",
            )
        decided = proposal.model_copy(
            update={"status": status, "decided_by": by, "decided_at": now(), "decision_reason": reason}
        )
        atomic_write(path, _frontmatter.render(decided))
    return decided


def problems(ws: Workspace) -> list[StateError]:
    """Each broken proposal record."""
    return _frontmatter.problems(Proposal, ws.proposals_dir, PREFIX, rel=ws.rel)


def _path(ws: Workspace, record_id: str) -> Path:
    path = _frontmatter.find(ws.proposals_dir, record_id)
    if path is None:
        raise StateError(
            f"no proposal {record_id}",
            fix="`aios proposal list` shows the proposals (ids look like PROP-0001)",
        )
    return path
