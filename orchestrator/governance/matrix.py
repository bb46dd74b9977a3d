"""Who may do what: the operating model's authority levels and role-mode matrix, as two tables.

Every governed operation is an ``Op``. A human member may take it when their authority level is
at least the one ``HUMAN`` names (L0 is the most authority); an agent may take it only when its
session's role mode lists it in ``AGENT``, and only on tasks in the session's scope. Nothing else
in aios decides who may: ``authority.permit`` reads these tables, and the tests walk every cell.
"""

from __future__ import annotations

from enum import StrEnum

from orchestrator.errors import TransitionError
from orchestrator.state.lifecycle import Status
from orchestrator.state.project import Level
from orchestrator.state.taskcard import RoleMode


class Op(StrEnum):
    """A governed operation. Task moves are named for the lifecycle action they take."""

    READ = "read"
    CREATE_TASK = "create_task"
    APPROVE_TASK = "approve_task"
    START = "start"
    WRITE_CODE = "write_code"
    SUBMIT = "submit"
    REVISE = "revise"
    FINISH = "finish"
    CLEAR_REVIEW = "clear_review"
    """``finish`` from ``code_review``: the review found the change good enough for a human."""
    REJECT = "reject"
    MERGE = "merge"
    BLOCK = "block"
    UNBLOCK = "unblock"
    STOP = "stop"
    DECIDE_ESCALATION = "decide_escalation"
    PROPOSE = "propose"
    LOCK_QUEUE = "lock_queue"
    UNLOCK_QUEUE = "unlock_queue"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    MANAGE_MEMBERS = "manage_members"
    REGISTER_AGENT = "register_agent"
    APPROVE_AGENT = "approve_agent"
    CREATE_SESSION = "create_session"
    TERMINATE_SESSION = "terminate_session"
    DISMISS_FINDING = "dismiss_finding"
    """``aios review dismiss``: a review finding is not raised again for the task."""
    RECORD_DECISION = "record_decision"
    """``aios decision new``: an entry in the decision log (``ops/decision-log/``)."""
    DECIDE_PROPOSAL = "decide_proposal"
    """``aios proposal accept|reject``: a spec change request decided (L1 for the governance queue)."""
    DEVIATE = "deviate"
    """``aios deviation new|resolve``: declare or resolve an override of the policy (an L2 override)."""
    ESCALATE = "escalate"
    """``aios escalate``: raise a problem on a task to the escalation matrix."""
    ANSWER_ESCALATION = "answer_escalation"
    """``aios escalation answer``: the least level here; the escalation's current step raises it."""
    PRUNE_AGENTS = "prune_agents"
    """``aios agent prune``: revoke test and stale agents, ending their sessions."""


#: The least authority a human member needs for each operation (L3 operator ... L0 owner).
HUMAN: dict[Op, Level] = {
    Op.READ: Level.OPERATOR,
    Op.CREATE_TASK: Level.OPERATOR,
    Op.APPROVE_TASK: Level.OPERATOR,
    Op.START: Level.OPERATOR,
    Op.WRITE_CODE: Level.OPERATOR,
    Op.SUBMIT: Level.OPERATOR,
    Op.REVISE: Level.OPERATOR,
    Op.FINISH: Level.OPERATOR,
    Op.CLEAR_REVIEW: Level.OPERATOR,
    Op.REJECT: Level.OPERATOR,
    Op.MERGE: Level.LEAD,
    Op.BLOCK: Level.OPERATOR,
    Op.UNBLOCK: Level.OPERATOR,
    Op.STOP: Level.OPERATOR,
    Op.DECIDE_ESCALATION: Level.OPERATOR,
    Op.PROPOSE: Level.OPERATOR,
    Op.LOCK_QUEUE: Level.OPERATOR,
    Op.UNLOCK_QUEUE: Level.PLATFORM,
    Op.FREEZE: Level.OWNER,
    Op.UNFREEZE: Level.OWNER,
    Op.MANAGE_MEMBERS: Level.OWNER,
    Op.REGISTER_AGENT: Level.LEAD,
    Op.APPROVE_AGENT: Level.LEAD,
    Op.CREATE_SESSION: Level.OPERATOR,
    Op.TERMINATE_SESSION: Level.OPERATOR,
    # Dismissing a finding can turn NEEDS_REVISION into APPROVED: it waives part of the review,
    # so it takes the authority that merging takes (L2 lead; L1 in the governance queue).
    Op.DISMISS_FINDING: Level.LEAD,
    # The decision log, spec changes and overrides are the project lead's (L2, the operating
    # model's "project adaptive" level); framework changes (the governance queue) are L1's.
    Op.RECORD_DECISION: Level.LEAD,
    Op.DECIDE_PROPOSAL: Level.LEAD,
    Op.DEVIATE: Level.LEAD,
    Op.ESCALATE: Level.OPERATOR,
    Op.ANSWER_ESCALATION: Level.OPERATOR,
    Op.PRUNE_AGENTS: Level.LEAD,  # as revoking one agent (APPROVE_AGENT) does
}

#: In the ``governance`` queue (framework changes: workflows, personas, prompts, the policy),
#: these operations need more authority than elsewhere.
GOVERNANCE_QUEUE = "governance"
HUMAN_IN_GOVERNANCE_QUEUE: dict[Op, Level] = {
    Op.MERGE: Level.PLATFORM,
    Op.DISMISS_FINDING: Level.PLATFORM,
    Op.DECIDE_PROPOSAL: Level.PLATFORM,
    Op.DEVIATE: Level.PLATFORM,
}

_WORKER = frozenset(
    {
        Op.READ,
        Op.START,
        Op.WRITE_CODE,
        Op.SUBMIT,
        Op.REVISE,
        Op.FINISH,
        Op.BLOCK,
        Op.TERMINATE_SESSION,
        Op.ESCALATE,
    }
)

#: What an agent's session may do, by its role mode. Anything not listed is refused.
AGENT: dict[RoleMode, frozenset[Op]] = {
    # Define specs, propose changes; not execute code or modify production.
    RoleMode.ARCHITECT: frozenset({Op.READ, Op.CREATE_TASK, Op.PROPOSE, Op.TERMINATE_SESSION, Op.ESCALATE}),
    # Decompose tasks, create TaskCards; not approve governance changes.
    RoleMode.PLANNER: frozenset({Op.READ, Op.CREATE_TASK, Op.PROPOSE, Op.TERMINATE_SESSION, Op.ESCALATE}),
    # Run defined tasks, produce artifacts; not create tasks or change specs.
    RoleMode.EXECUTOR: _WORKER,
    # Implement, write code; not approve releases or change canon.
    RoleMode.BUILDER: _WORKER,
    # Review; never write code or merge.
    # Any agent may raise a problem on a task in its scope; none may answer one.
    RoleMode.REVIEWER: frozenset(
        {Op.READ, Op.CLEAR_REVIEW, Op.REVISE, Op.BLOCK, Op.TERMINATE_SESSION, Op.ESCALATE}
    ),
}

#: Operations on one task whose role mode must be the session's (a builder task is built by a
#: builder session); the reviewer mode reviews every kind of task.
WORK_ON_TASK = frozenset({Op.START, Op.WRITE_CODE, Op.SUBMIT, Op.FINISH})


#: The operation each lifecycle action (``lifecycle.ACTIONS``) is, spelt out: an action renamed or
#: added in the lifecycle must be mapped here on purpose, never by a coincidence of names.
ACTION_OPS: dict[str, Op] = {
    "approve": Op.APPROVE_TASK,
    "start": Op.START,
    "submit": Op.SUBMIT,
    "revise": Op.REVISE,
    "finish": Op.FINISH,
    "reject": Op.REJECT,
    "merge": Op.MERGE,
    "block": Op.BLOCK,
    "unblock": Op.UNBLOCK,
}


def task_op(action: str, status: Status) -> Op:
    """The operation a lifecycle ``action`` from ``status`` is.

    Raises:
        TransitionError: ``action`` is not a lifecycle action.
    """
    if action == "finish" and status is Status.CODE_REVIEW:
        return Op.CLEAR_REVIEW
    try:
        return ACTION_OPS[action]
    except KeyError:
        raise TransitionError(
            f"{action!r} is not a lifecycle action", fix=f"use one of {', '.join(ACTION_OPS)}"
        ) from None


def required_level(op: Op, queue: str | None = None) -> Level:
    """The least authority a member needs for ``op`` (on a task in ``queue``)."""
    if queue == GOVERNANCE_QUEUE and op in HUMAN_IN_GOVERNANCE_QUEUE:
        return HUMAN_IN_GOVERNANCE_QUEUE[op]
    return HUMAN[op]
