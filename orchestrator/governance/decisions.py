"""The decision log and proposals, as governed actions: who may write and decide them, audited.

``record`` writes a decision (L2 lead or higher) and notes it on each task it names, so the task's
trail links the decision log. ``propose`` writes a spec change request (any member; an architect
or planner agent session too); ``settle`` accepts or rejects one, by the authority the operating
model names: an L2 project lead, or an L1 platform engineer for the ``governance`` queue (framework
changes). Each action is a line in ``ops/audit/governance.md``; each refusal is audited.
"""

from __future__ import annotations

from orchestrator._text import visible
from orchestrator.errors import ConfigError
from orchestrator.governance.authority import audited, decide
from orchestrator.governance.matrix import Op
from orchestrator.state import decisions, proposals, tasks
from orchestrator.state.audit import actor_kind, append_governance
from orchestrator.state.decisions import Decision
from orchestrator.state.proposals import Proposal, ProposalStatus
from orchestrator.state.sessions import Session
from orchestrator.state.workspace import Workspace


def record(
    ws: Workspace,
    *,
    title: str,
    actor: str,
    body: str = "",
    task_ids: list[str] | None = None,
    session: Session | None = None,
) -> Decision:
    """Write a decision to the log; each task it names gets a note linking it.

    Raises:
        PermissionDenied: the actor is not an L2 lead or higher.
        StateError: a named task does not exist, or a field is bad.
    """
    task_ids = task_ids or []
    for tid in task_ids:
        tasks.get(ws, tid)  # an unknown task is refused before anything is written
    first = task_ids[0] if task_ids else None
    with audited(ws, actor=actor, what="record a decision", task_id=first, session=session):
        decide(ws, Op.RECORD_DECISION, actor=actor, session=session)
    decision = decisions.new(ws, title=title, by=actor, body=body, tasks=task_ids)
    for tid in task_ids:
        tasks.note(ws, tid, actor=actor, reason=f"decision {decision.id}: {title}")
    _log(ws, actor, f"decision {decision.id} recorded: {title}")
    return decision


def propose(
    ws: Workspace,
    *,
    title: str,
    actor: str,
    body: str = "",
    queue: str | None = None,
    specs: list[str] | None = None,
    session: Session | None = None,
) -> Proposal:
    """Write a pending spec change request.

    Raises:
        PermissionDenied: the actor may not propose changes (an agent outside architect/planner).
        ConfigError: an unknown queue.
    """
    if queue is not None and queue not in ws.project.queues:
        raise ConfigError(
            f"unknown queue {queue!r}",
            field="queue",
            fix=f"use one of {', '.join(ws.project.queues)}, or leave --queue out",
        )
    with audited(ws, actor=actor, what="propose a change", session=session):
        decide(ws, Op.PROPOSE, actor=actor, session=session, queue=queue)
    proposal = proposals.new(ws, title=title, by=actor, body=body, queue=queue, specs=specs)
    _log(ws, actor, f"proposal {proposal.id} written: {title}")
    return proposal


def settle(
    ws: Workspace,
    proposal_id: str,
    *,
    accept: bool,
    reason: str,
    actor: str,
    session: Session | None = None,
) -> Proposal:
    """Accept or reject a pending proposal.

    Raises:
        PermissionDenied: the actor lacks the authority (L2; L1 in the governance queue).
        StateError: no such proposal, or it was decided already.
    """
    proposal = proposals.get(ws, proposal_id)
    verb = "accept" if accept else "reject"
    with audited(ws, actor=actor, what=f"{verb} proposal {proposal_id}", session=session):
        decide(ws, Op.DECIDE_PROPOSAL, actor=actor, session=session, queue=proposal.queue)
    status = ProposalStatus.ACCEPTED if accept else ProposalStatus.REJECTED
    decided = proposals.decide(ws, proposal_id, status, by=actor, reason=reason)
    _log(ws, actor, f"proposal {proposal_id} {status.value}: {reason}")
    return decided


def _log(ws: Workspace, actor: str, text: str) -> None:
    append_governance(ws, f"{visible(actor)} ({actor_kind(actor)}) · {text}")
