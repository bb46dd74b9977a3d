"""Where a task's review run stands, as every shell shows it (CLI now; MCP and the web page next).

``RunStatus.model_dump(mode="json")`` is the ``aios review ... --json`` contract: its keys and their
order are the fields' below, so change them only with that contract.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from orchestrator.review.findings import Dimension, Finding, Severity

Waiting = Literal["human_review", "escalation", "builder"]


class RunFinding(BaseModel):
    """One finding of the last round, as a status shows it (a ``Finding`` without its source)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimension: Dimension
    severity: Severity
    file: str | None
    line: int | None
    rule: str | None
    message: str
    suggestion: str | None
    persona: str | None

    @classmethod
    def of(cls, finding: Finding) -> RunFinding:
        return cls.model_validate(finding.model_dump(include=set(cls.model_fields)))


class RunStatus(BaseModel):
    """A task's review run: its task status, round, verdict and what it waits for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    status: str
    """The task's lifecycle status (``running``, ``reviewing``, ``done`` ...)."""
    round: int
    verdict: str | None
    """The last round's verdict (``APPROVED``, ``NEEDS_REVISION``, ``BLOCKED``); None before one."""
    waiting_for: Waiting | None
    """Who must act next; None when the run finished or stopped."""
    merged: str | None
    """The merge commit once merged."""
    reasons: list[str]
    findings: list[RunFinding]
    note: str | None = None
    """Why the command did nothing, and what to do instead."""

    def noted(self, note: str) -> RunStatus:
        """This status with ``note``."""
        return self.model_copy(update={"note": note})
