"""Who may do what, decided here for every entry point (CLI, MCP server, web page, the workflow).

A human acts as a project member, by authority level; an agent acts only through a live session,
by its role mode, inside its task scope and its agent's grant (``matrix`` holds both tables).
``decide`` refuses with a ``PermissionDenied`` naming the rule; ``audited`` records every refusal:
on the task's audit trail when there is a task, else in ``ops/audit/governance.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from orchestrator._text import visible
from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance.matrix import AGENT, WORK_ON_TASK, Op, required_level, task_op
from orchestrator.state import agents, queues, sessions, tasks
from orchestrator.state.audit import actor_kind, append_governance, check_actor
from orchestrator.state.lifecycle import Status
from orchestrator.state.project import Level
from orchestrator.state.records import TaskState
from orchestrator.state.sessions import Session
from orchestrator.state.stores import open_store, task_exists
from orchestrator.state.workspace import Workspace

LEVEL_NAMES: dict[Level, str] = {
    Level.OWNER: "L0 project owner",
    Level.PLATFORM: "L1 platform engineer",
    Level.LEAD: "L2 project lead",
    Level.OPERATOR: "L3 human operator",
}

_DOING: dict[Op, str] = {
    Op.READ: "read the workspace",
    Op.CREATE_TASK: "create a task",
    Op.APPROVE_TASK: "approve a task to start",
    Op.START: "start a task",
    Op.WRITE_CODE: "write code for a task",
    Op.SUBMIT: "submit a task for review",
    Op.REVISE: "send a task back to revision",
    Op.FINISH: "finish a task",
    Op.CLEAR_REVIEW: "clear a task's review for the human checkpoint",
    Op.REJECT: "reject a reviewed change",
    Op.MERGE: "approve a merge",
    Op.BLOCK: "block a task",
    Op.UNBLOCK: "unblock a task",
    Op.STOP: "stop a task",
    Op.DECIDE_ESCALATION: "decide on an escalated task",
    Op.PROPOSE: "propose a change",
    Op.LOCK_QUEUE: "lock a queue",
    Op.UNLOCK_QUEUE: "unlock a queue",
    Op.FREEZE: "freeze the system",
    Op.UNFREEZE: "unfreeze the system",
    Op.MANAGE_MEMBERS: "manage the project's members",
    Op.REGISTER_AGENT: "register an agent",
    Op.APPROVE_AGENT: "approve an agent",
    Op.CREATE_SESSION: "create an agent session",
    Op.TERMINATE_SESSION: "terminate a session",
    Op.DISMISS_FINDING: "dismiss a review finding",
    Op.RECORD_DECISION: "record a decision in the decision log",
    Op.DECIDE_PROPOSAL: "accept or reject a proposal",
    Op.DEVIATE: "declare or resolve a deviation",
    Op.ESCALATE: "escalate a problem on a task",
    Op.ANSWER_ESCALATION: "answer an escalation",
    Op.PRUNE_AGENTS: "prune test and stale agents",
}


def is_agent(actor: str) -> bool:
    """Agents act as ``agent:<id>``."""
    return actor_kind(actor) == "agent"


def decide(
    ws: Workspace,
    op: Op,
    *,
    actor: str,
    session: Session | None = None,
    task: TaskState | None = None,
    queue: str | None = None,
    at_least: Level | None = None,
) -> None:
    """Refuse unless ``actor`` may take ``op`` (on ``task``, or in ``queue`` for a new task).

    ``at_least`` raises the level a member needs above the matrix's (an escalation's current step).

    Raises:
        PermissionDenied: with ``rule`` naming the rule that refused, and a fix.
    """
    check_actor(actor)
    queue = task.queue if task is not None else queue
    if is_agent(actor):
        _agent(ws, op, actor=actor, session=session, task=task, queue=queue)
    elif session is not None:
        raise PermissionDenied(
            f"{actor} is a person, but the session {session.id} belongs to {session.actor}",
            rule="session",
            fix="act as yourself without --session, or as the agent with its session",
        )
    else:
        _human(ws, op, actor=actor, queue=queue, step=at_least)


def authorise_move(
    ws: Workspace, task: TaskState, action: str, actor: str, *, session: Session | None = None
) -> None:
    """``decide`` for the lifecycle ``action`` on ``task`` (the state layer's ``Authorise``)."""
    decide(ws, task_op(action, task.status), actor=actor, session=session, task=task)


def authorise_lock(ws: Workspace, actor: str, locked: bool, *, session: Session | None = None) -> None:
    """``decide`` for locking (or unlocking) queues (the state layer's ``AuthoriseLock``)."""
    decide(ws, Op.LOCK_QUEUE if locked else Op.UNLOCK_QUEUE, actor=actor, session=session)


def level_of(ws: Workspace, actor: str) -> Level | None:
    """The member's authority level; None for an agent or a name that is not a member."""
    return None if is_agent(actor) else ws.project.level(actor)


# ---- humans: authority levels ----


def _human(ws: Workspace, op: Op, *, actor: str, queue: str | None, step: Level | None = None) -> None:
    doing = _DOING[op]
    project_file = ws.rel(ws.project_file)
    level = ws.project.level(actor)
    if level is None:
        raise PermissionDenied(
            f"{actor!r} is not a member of this project, so may not {doing}",
            rule="membership",
            fix=f"pass --actor with your member name, or ask the project owner to add you: "
            f"`aios member add NAME --role operator` (members are listed in {project_file})",
        )
    in_queue = required_level(op, queue)
    need = min(in_queue, step if step is not None else Level.OPERATOR)
    if level > need:
        where = f" in the {queue} queue" if queue and need == in_queue < required_level(op) else ""
        at_least = LEVEL_NAMES[need] if need is Level.OWNER else f"{LEVEL_NAMES[need]} or higher"
        raise PermissionDenied(
            f"{actor} ({LEVEL_NAMES[level]}) may not {doing}{where}: it needs an {at_least}",
            rule="authority-level",
            fix=f"ask a member who is an {at_least} (`aios member list` shows them)",
        )


# ---- agents: sessions, role modes, task scope ----


def _agent(
    ws: Workspace, op: Op, *, actor: str, session: Session | None, task: TaskState | None, queue: str | None
) -> None:
    doing = _DOING[op]
    if session is None:
        raise PermissionDenied(
            f"{actor} is an agent, and an agent acts only through a live session",
            rule="session",
            fix="pass --session TOKEN (or set AIOS_SESSION); a member creates one with "
            f"`aios session create --agent {actor.removeprefix('agent:')} --role-mode MODE --task-scope ID`",
        )
    session = current_session(ws, session)
    if session.actor != actor:
        raise PermissionDenied(
            f"the session {session.id} belongs to {session.actor}, not {actor}",
            rule="session",
            fix="act with your own session",
        )
    mode = session.role_mode
    if op not in AGENT[mode]:
        can = ", ".join(sorted(_DOING[o] for o in AGENT[mode] if o is not Op.READ))
        raise PermissionDenied(
            f"{actor}'s session is in {mode.value} mode, which may not {doing}",
            rule="role-mode",
            fix=f"a {mode.value} session may: {can}; only a human member may do the rest",
        )
    if op not in _WHILE_STOPPED:
        _not_stopped(ws, actor, doing, queue)
    grant = agents.load(ws).get(session.agent_id)
    if grant is None or grant.state is not agents.AgentState.ACTIVE:
        state = grant.state.value if grant else "not registered"
        raise PermissionDenied(
            f"{actor} is {state}, so its sessions may not act",
            rule="grant",
            fix=f"a member approves it: `aios agent approve {session.agent_id} --role-modes ...`",
        )
    if queue is not None and grant.queues is not None and queue not in grant.queues:
        raise PermissionDenied(
            f"{actor} may not {doing} in the {queue} queue: its grant covers {', '.join(grant.queues)}",
            rule="grant",
            fix=f"a member widens the grant: `aios agent approve {grant.id} --queues ...`",
        )
    if op is Op.START and queue is not None and queues.policy(ws, queue).requires_human_approval:
        raise PermissionDenied(
            f"tasks in the {queue} queue are started by a human member, not by {actor}",
            rule="human-approval",
            fix=f"a member starts it: `aios task start {task.id if task else 'ID'}`",
        )
    if task is not None:
        _in_scope(task, op, session)


#: What an agent may still do while the system is frozen or its task's queue is locked.
_WHILE_STOPPED = frozenset({Op.READ, Op.TERMINATE_SESSION, Op.ESCALATE})


def _not_stopped(ws: Workspace, actor: str, doing: str, queue: str | None) -> None:
    """A freeze, or a lock of the queue it works in, stops every agent (people still act)."""
    locks = open_store(ws).peek_locks()  # no lock taken: this runs inside the state transaction too
    if locks.frozen is not None:
        raise PermissionDenied(
            f"{actor} may not {doing}: {queues.frozen_text(locks.frozen)}",
            rule="freeze",
            fix="agents act again once the project owner runs `aios unfreeze`",
        )
    state = locks.queues.get(queue) if queue else None
    if state is not None and state.lock:
        raise PermissionDenied(
            f"{actor} may not {doing}: queue {queue} is {queues.locked_text(state)}",
            rule="queue-lock",
            fix=f"agents act in it again once a member runs `aios queue unlock {queue}`",
        )


def _in_scope(task: TaskState, op: Op, session: Session) -> None:
    actor, doing = session.actor, _DOING[op]
    if task.id not in session.task_scope:
        scope = ", ".join(session.task_scope) or "no task"
        raise PermissionDenied(
            f"{task.id} is outside the task scope of {actor}'s session {session.id} ({scope})",
            rule="task-scope",
            fix=f"a member creates a session whose --task-scope includes {task.id}",
        )
    if op in WORK_ON_TASK and task.role_mode != session.role_mode.value:
        raise PermissionDenied(
            f"{task.id} is a {task.role_mode} task; a session in {session.role_mode.value} mode may not "
            f"{doing.replace(' a task', ' it')}",
            rule="role-mode",
            fix=f"use a session in {task.role_mode} mode for this task",
        )
    if op in (Op.CLEAR_REVIEW, Op.REVISE) and _submitted_by(task, actor):
        raise PermissionDenied(
            f"{actor} submitted {task.id} for review, so may not review it: no agent approves its own work",
            rule="own-work",
            fix="another agent's reviewer session, or a human member, reviews it",
        )


def _submitted_by(task: TaskState, actor: str) -> bool:
    return any(e.actor == actor and e.to is Status.CODE_REVIEW and e.from_ is not e.to for e in task.events)


def current_session(ws: Workspace, session: Session) -> Session:
    """``session`` as the file holds it now, refused unless it is still live.

    Read again on every action: a session terminated by command or by a hand edit of
    ``state/sessions.yaml``, or expired, stops acting at once.

    Raises:
        PermissionDenied: the session is gone, terminated or expired.
    """
    now_held = sessions.load(ws).by_id(session.id)
    if now_held is None:
        raise PermissionDenied(
            f"the session {session.id} is not in {ws.rel(ws.sessions_file)}",
            rule="session",
            fix="a member creates a new session: `aios session create ...`",
        )
    require_live(ws, now_held)
    return now_held


def require_live(ws: Workspace, session: Session) -> None:
    """Refuse a terminated or expired session.

    Raises:
        PermissionDenied: naming when and by whom it ended.
    """
    if session.state is sessions.SessionState.TERMINATED:
        by = f" by {session.terminated_by}" if session.terminated_by else " by hand"
        why = f" ({session.reason})" if session.reason else ""
        raise PermissionDenied(
            f"the session {session.id} of {session.actor} was terminated{by}{why}",
            rule="session",
            fix="a member creates a new session: `aios session create ...`",
        )
    if session.expired():
        raise PermissionDenied(
            f"the session {session.id} of {session.actor} expired at {session.expires_at}",
            rule="session",
            fix="a member creates a new session: `aios session create ... --ttl 8h`",
        )


# ---- every refusal is audited ----


@contextmanager
def audited(
    ws: Workspace, *, actor: str, what: str, task_id: str | None = None, session: Session | None = None
) -> Iterator[None]:
    """Record a ``PermissionDenied`` raised in the block, then let it propagate.

    Outside any state transaction: the refusal is written by a transaction of its own.
    """
    try:
        yield
    except PermissionDenied as exc:
        record_refusal(ws, exc, actor=actor, what=what, task_id=task_id, session=session)
        raise


def record_refusal(
    ws: Workspace,
    exc: PermissionDenied,
    *,
    actor: str,
    what: str,
    task_id: str | None,
    session: Session | None = None,
) -> None:
    """Write the refusal on ``task_id``'s trail as a violation, else in the governance log."""
    reason = f"refused ({exc.rule}): {what}: {exc.message}"
    if task_id is not None and task_exists(ws, task_id):
        try:
            tasks.violation(ws, task_id, actor=actor, reason=reason, session=session and session.id)
            return
        except (PermissionDenied, StateError):
            pass  # an actor name the trail cannot hold, or a broken task file: the log takes it
    in_session = f" in session {session.id}" if session else ""
    append_governance(ws, f"violation · by {visible(actor)[:100]}{in_session} · {reason}")
