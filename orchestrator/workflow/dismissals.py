"""``aios review dismiss``: a member dismisses one finding of a task's review.

The finding is named by its id (``Finding.fingerprint``, shown in brackets in the report), which
stays the same across rounds. The dismissal is a ``dismissal`` event on the task's audit trail;
later rounds read it back (``state.tasks.dismissed_findings``) and list the finding as dismissed
instead of counting it. Who may dismiss is the governance matrix's ``DISMISS_FINDING``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from orchestrator.errors import StateError
from orchestrator.governance import actions
from orchestrator.review.findings import Finding
from orchestrator.review.report import latest_report
from orchestrator.state import tasks
from orchestrator.state.sessions import Session
from orchestrator.state.workspace import Workspace

FINDING_ID = re.compile(r"^[0-9a-f]{12}$")


class Dismissal(BaseModel):
    """What ``aios review dismiss --json`` prints."""

    model_config = ConfigDict(extra="forbid")

    task: str
    finding_id: str
    finding: Finding
    actor: str
    reason: str


def dismiss(
    ws: Workspace, tid: str, finding_id: str, *, actor: str, reason: str, session: Session | None = None
) -> Dismissal:
    """Dismiss finding ``finding_id`` of the latest review of ``tid``, as ``actor``.

    Raises:
        StateError: no reason, a malformed id, no review yet, or no such finding in it.
        PermissionDenied: an agent, or a member below the level ``DISMISS_FINDING`` needs.
    """
    tasks.get(ws, tid)  # an unknown task is refused before anything else
    finding = _finding(ws, tid, finding_id.strip().lower(), reason)
    actions.dismiss_finding(ws, tid, finding.fingerprint, actor=actor, reason=reason.strip(), session=session)
    return Dismissal(
        task=tid, finding_id=finding.fingerprint, finding=finding, actor=actor, reason=reason.strip()
    )


def _finding(ws: Workspace, tid: str, finding_id: str, reason: str) -> Finding:
    show = f"`aios review show {tid}` lists each finding with its id in brackets"
    if not reason.strip():
        raise StateError(
            "a dismissal needs a reason", field="--reason", fix="say why the finding does not apply"
        )
    if not FINDING_ID.match(finding_id):
        raise StateError(f"'{finding_id}' is not a finding id (12 hexadecimal characters)", fix=show)
    report = latest_report(ws, tid)
    if report is None:
        raise StateError(f"{tid} has no review yet", fix=f"run `aios review run {tid}` first")
    found = next((f for f in [*report.findings, *report.dismissed] if f.fingerprint == finding_id), None)
    if found is None:
        raise StateError(
            f"the latest review of {tid} (round {report.round}) has no finding {finding_id}", fix=show
        )
    return found
