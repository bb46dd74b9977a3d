"""The governed actions: creating tasks, moving them through their lifecycle, locking queues, and
the emergency controls (a system freeze, a task's emergency stop).

Every entry point (the CLI, the MCP server, the web page, the workflow graph) calls these.
``authority`` decides who may, and every refusal is audited; the state layer (``state.tasks``,
``state.queues``) applies the change under its lock. ``session`` is the agent's live session
(None for a human member).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from orchestrator.errors import ConfigError
from orchestrator.governance.authority import audited, authorise_lock, authorise_move, decide
from orchestrator.governance.matrix import Op
from orchestrator.state import escalations, queues, refile, refiled, tasks
from orchestrator.state import freeze as freezing
from orchestrator.state.freeze import FreezeResult
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import TaskState
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import TaskCard
from orchestrator.state.tasks import MoveCheck
from orchestrator.state.workspace import Workspace


def create_task(
    ws: Workspace,
    card: TaskCard,
    *,
    actor: str,
    session: Session | None = None,
    card_file: Path | None = None,
) -> TaskState:
    """Register ``card`` as a new task in ``inbox`` (``tasks.create``), if ``actor`` may create one.

    Raises:
        PermissionDenied: the actor may not create tasks (in the card's queue).
        ConfigError: the card names an unknown queue or persona.
    """
    with audited(ws, actor=actor, what=f"create a task in the {card.queue} queue", session=session):
        decide(ws, Op.CREATE_TASK, actor=actor, session=session, queue=card.queue)
    return tasks.create(ws, card, actor=actor, card_file=card_file, session=_id(session))


def transition(
    ws: Workspace,
    tid: str,
    action: str,
    *,
    actor: str,
    session: Session | None = None,
    reason: str | None = None,
    artifacts: list[str] | None = None,
) -> TaskState:
    """Apply a lifecycle ``action`` to task ``tid`` as ``actor``; returns the updated task.

    Raises:
        TransitionError: the action is not allowed from the task's status.
        PermissionDenied: the actor may not take it.
        QueueError: it needs a queue slot and the queue is full or locked.
    """
    authorise = partial(authorise_move, session=session)
    with audited(ws, actor=actor, what=action, task_id=tid, session=session):
        return tasks.transition(
            ws,
            tid,
            action,
            actor=actor,
            authorise=authorise,
            reason=reason,
            artifacts=artifacts,
            session=_id(session),
        )


def advance(
    ws: Workspace,
    tid: str,
    want: Status,
    *,
    actor: str,
    reason: str,
    session: Session | None = None,
    check: MoveCheck | None = None,
) -> TaskState:
    """Bring ``tid`` to ``want`` by the workflow's route, each step authorised (``tasks.advance``).

    ``check`` (a run's ``RunGuard.before_move``) may refuse the move under the state lock.

    Raises:
        TransitionError: no step leads on from the task's status.
        PermissionDenied: the actor may not take a step on the way.
        RunStopped: ``check`` refused: a person stopped the run.
    """
    authorise = partial(authorise_move, session=session)
    with audited(ws, actor=actor, what=f"move to {want.value}", task_id=tid, session=session):
        return tasks.advance(
            ws, tid, want, actor=actor, authorise=authorise, reason=reason, session=_id(session), check=check
        )


def triage(
    ws: Workspace,
    tid: str,
    *,
    priority: int | None = None,
    queue: str | None = None,
    actor: str,
    reason: str | None = None,
    session: Session | None = None,
) -> TaskState:
    """Set the priority of ``tid`` in the inbox (``tasks.triage``) and/or re-file it into another
    queue under a new id there (``refile.refile``), if ``actor`` may approve tasks (in both queues).

    Returns the task as it is now: under its new id when it was re-filed.

    Raises:
        PermissionDenied: the actor may not approve tasks (audited on the task's trail).
        TransitionError: the task has left the inbox.
        ConfigError: neither a priority nor a queue, or an unknown queue.
    """
    if priority is None and queue is None:
        raise ConfigError("nothing to triage", fix="pass --priority P, --queue Q, or both")

    def authorise(ws: Workspace, task: TaskState, action: str, actor: str) -> None:
        decide(ws, Op.APPROVE_TASK, actor=actor, session=session, task=task)

    def authorise_refile(ws: Workspace, task: TaskState, to_queue: str, actor: str) -> None:
        decide(ws, Op.APPROVE_TASK, actor=actor, session=session, task=task)
        decide(ws, Op.APPROVE_TASK, actor=actor, session=session, queue=to_queue)

    def set_priority(task_id: str, priority: int) -> TaskState:
        return tasks.triage(
            ws,
            task_id,
            priority=priority,
            actor=actor,
            authorise=authorise,
            reason=reason,
            session=_id(session),
        )

    with audited(ws, actor=actor, what="triage", task_id=tid, session=session):
        task = None
        if priority is not None and refiled.find(ws, tid) is None:
            task = set_priority(tid, priority)
        if queue is not None and not (task is not None and task.queue == queue):
            task = refile.refile(
                ws,
                tid,
                queue=queue,
                actor=actor,
                authorise=authorise_refile,
                reason=reason,
                session=_id(session),
            )
            if priority is not None and task.priority != priority:  # a re-file finished only now
                task = set_priority(task.id, priority)
        assert task is not None  # a priority or a queue was given
        return task


def stop(ws: Workspace, tid: str, *, actor: str, reason: str, session: Session | None = None) -> TaskState:
    """Emergency-stop ``tid``: blocked with an ``emergency_stop`` event; its run stops at its next
    step and only a person's ``unblock`` lifts it.

    Raises:
        PermissionDenied: the actor may not stop tasks.
        TransitionError: the task is done.
        StateError: no reason was given.
    """

    def authorise(ws: Workspace, task: TaskState, action: str, actor: str) -> None:
        decide(ws, Op.STOP, actor=actor, session=session, task=task)

    with audited(ws, actor=actor, what="stop", task_id=tid, session=session):
        return tasks.stop(ws, tid, actor=actor, reason=reason, authorise=authorise)


def require(
    ws: Workspace, op: Op, *, actor: str, session: Session | None = None, task_id: str | None = None
) -> None:
    """Refuse (and audit) unless ``actor`` may take ``op``, on ``task_id`` when given.

    For the decisions that are not a single task move (a human checkpoint's approve or reject).

    Raises:
        PermissionDenied: naming the rule.
    """
    task = tasks.get(ws, task_id) if task_id is not None else None
    with audited(ws, actor=actor, what=op.value, task_id=task_id, session=session):
        decide(ws, op, actor=actor, session=session, task=task)


def set_lock(
    ws: Workspace,
    names: list[str],
    *,
    locked: bool,
    actor: str,
    session: Session | None = None,
    reason: str | None = None,
) -> list[str]:
    """Lock or unlock queues; returns the queues whose state changed (``queues.set_lock``).

    Raises:
        PermissionDenied: the actor lacks the authority (any member locks; L1 unlocks).
        StateError: a queue is not defined.
    """
    verb = "lock" if locked else "unlock"
    with audited(ws, actor=actor, what=f"{verb} queues {', '.join(names)}", session=session):
        authorise = partial(authorise_lock, session=session)
        return queues.set_lock(ws, names, locked=locked, actor=actor, authorise=authorise, reason=reason)


def note(
    ws: Workspace,
    tid: str,
    *,
    actor: str,
    reason: str,
    artifacts: list[str] | None = None,
    session: Session | None = None,
) -> TaskState:
    """Record a note on ``tid`` (an artifact produced, a decision taken) if ``actor`` may read it.

    Raises:
        PermissionDenied: an agent outside its session or task scope.
    """
    task = tasks.get(ws, tid)
    with audited(ws, actor=actor, what="note", task_id=tid, session=session):
        decide(ws, Op.READ, actor=actor, session=session, task=task)
    return tasks.note(ws, tid, actor=actor, reason=reason, artifacts=artifacts, session=_id(session))


def dismiss_finding(
    ws: Workspace,
    tid: str,
    finding_id: str,
    *,
    actor: str,
    reason: str,
    session: Session | None = None,
) -> TaskState:
    """Dismiss review finding ``finding_id`` of ``tid`` on its audit trail, if ``actor`` may.

    No agent may, in any role mode: the review's findings are what an agent's work is judged by.

    Raises:
        PermissionDenied: an agent, or a member below L2 (L1 in the governance queue).
    """
    task = tasks.get(ws, tid)
    with audited(ws, actor=actor, what=f"dismiss finding {finding_id}", task_id=tid, session=session):
        decide(ws, Op.DISMISS_FINDING, actor=actor, session=session, task=task)
    return tasks.dismiss(ws, tid, finding_id, actor=actor, reason=reason, session=_id(session))


def _id(session: Session | None) -> str | None:
    return session.id if session else None


def freeze(
    ws: Workspace,
    *,
    actor: str,
    reason: str,
    session: Session | None = None,
    escalation: str | None = None,
) -> FreezeResult:
    """Freeze the system (``state.freeze.freeze``): every queue locked, every run stopped. L0 only.

    ``escalation``: the id of a security escalation nobody answered, at its ``freeze`` step; the
    matrix authorises the freeze then (``actor`` is ``MATRIX_ACTOR``), not a member's level.

    Raises:
        PermissionDenied: the actor is not the project owner (or the escalation is not at that step).
        StateError: no reason was given.
    """

    def authorise(ws: Workspace, actor: str, doing: str) -> None:
        if escalation is not None:
            escalations.require_final_action(ws, escalation, escalations.FinalAction.FREEZE)
            return
        decide(ws, Op.FREEZE, actor=actor, session=session)

    with audited(ws, actor=actor, what="freeze", session=session):
        return freezing.freeze(ws, actor=actor, reason=reason, authorise=authorise)


def unfreeze(
    ws: Workspace, *, actor: str, reason: str | None = None, session: Session | None = None
) -> FreezeResult | None:
    """Lift the freeze (``state.freeze.unfreeze``); None when the system was not frozen. L0 only.

    Raises:
        PermissionDenied: the actor is not the project owner.
    """

    def authorise(ws: Workspace, actor: str, doing: str) -> None:
        decide(ws, Op.UNFREEZE, actor=actor, session=session)

    with audited(ws, actor=actor, what="unfreeze", session=session):
        return freezing.unfreeze(ws, actor=actor, reason=reason, authorise=authorise)
