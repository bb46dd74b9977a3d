"""Escalations: a problem on a task routed to the authority the matrix names, moving up on silence.

``escalate`` opens one (who may: ``Op.ESCALATE``) and names the members who must answer: those
holding the step's level. A level nobody holds is skipped, except into the matrix's own action: the
last level before it (or the last step) is then answered by the members with more authority.
``answer`` closes it (a member with at least the step's level). ``move_up_overdue`` runs at the
start of every command: an escalation past its step's time moves up, and at its last step the
matrix acts by itself, through the same services as the commands: ``actions.freeze`` (security)
or ``sessions.terminate`` (agent-misbehavior). Every step is an event on the task's audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.errors import StateError
from orchestrator.governance import actions, sessions
from orchestrator.governance.authority import LEVEL_NAMES, audited, decide
from orchestrator.governance.matrix import Op
from orchestrator.state import agents, tasks
from orchestrator.state import escalations as store
from orchestrator.state import sessions as session_store
from orchestrator.state.escalations import (
    MATRIX_ACTOR,
    Escalation,
    EscalationState,
    EscalationType,
    FinalAction,
)
from orchestrator.state.project import Level, Project
from orchestrator.state.sessions import Session, parse_time
from orchestrator.state.workspace import Workspace


@dataclass(frozen=True)
class Routed:
    """An escalation and who must answer it now."""

    escalation: Escalation
    answerers: list[str]
    """Member names; those holding the step's level, else those with more authority."""
    held: bool
    """False: nobody holds the step's level, so ``answerers`` are members with more authority."""
    notes: list[str] = field(default_factory=list)
    """What happened on the way (levels skipped because nobody holds them)."""

    @property
    def level(self) -> Level | None:
        step = self.escalation.current
        return step.authority if step.level else None


def escalate(
    ws: Workspace,
    task_id: str,
    *,
    kind: EscalationType,
    reason: str,
    actor: str,
    session: Session | None = None,
    session_id: str | None = None,
    agent_id: str | None = None,
    at: datetime | None = None,
) -> Routed:
    """Open an escalation of ``kind`` on ``task_id``; returns it and who must answer.

    Raises:
        PermissionDenied: the actor may not escalate (an agent outside its scope, a non-member).
        StateError: no reason, no such task, session or agent, or a target the kind does not take.
        ConfigError: ``workflows/escalation.yaml`` is not valid.
    """
    if not reason.strip():
        raise StateError(
            "an escalation needs a reason", fix="pass --reason TEXT (it goes on the audit trail)"
        )
    task = tasks.get(ws, task_id)
    with audited(ws, actor=actor, what=f"escalate ({kind.value})", task_id=task_id, session=session):
        decide(ws, Op.ESCALATE, actor=actor, session=session, task=task)
    _check_target(ws, kind, session_id, agent_id)
    route = store.load_matrix(ws.root).types[kind]
    now = at or store.clock()
    with store.editing(ws) as roster:
        opened = Escalation(
            id=roster.new_id(),
            task_id=task_id,
            type=kind,
            reason=reason,
            raised_by=actor,
            raised_at=store.stamp(now),
            session_id=session_id,
            agent_id=agent_id,
            steps=[s.model_copy() for s in route.steps],
        )
        notes = _to_holder(opened, ws.project)
        opened.due_at = store.stamp(now + opened.current.within)
        roster.escalations.append(opened)
    routed = _routed(ws.project, opened, notes)
    text = f"escalation {opened.id} ({kind.value}) raised: {reason}; {describe(routed)}"
    store.record_event(ws, task_id, actor=actor, text=text, session=session.id if session else None)
    return routed


def _check_target(ws: Workspace, kind: EscalationType, session_id: str | None, agent_id: str | None) -> None:
    if kind is not EscalationType.AGENT_MISBEHAVIOR:
        if session_id or agent_id:
            raise StateError(
                f"a {kind.value} escalation names no session or agent",
                fix="leave out --session-id and --agent (only agent-misbehavior takes them)",
            )
        return
    if not (session_id or agent_id):
        raise StateError(
            "an agent-misbehavior escalation names the agent: its last step terminates its session",
            fix="pass --session-id SES-... (`aios session list` shows them) or --agent ID",
        )
    if session_id and session_store.load(ws).by_id(session_id) is None:
        raise StateError(
            f"no session {session_id!r}", fix="`aios session list` shows the sessions and their ids"
        )
    if agent_id and agents.load(ws).get(agent_id) is None:
        raise StateError(f"no agent {agent_id!r}", fix="`aios agent list` shows the agents")


def answer(
    ws: Workspace, escalation_id: str, *, note: str, actor: str, session: Session | None = None
) -> Escalation:
    """Answer (and close) an open escalation, as a member with at least its current step's level.

    Raises:
        PermissionDenied: an agent, a non-member, or a member below the step's level (audited).
        StateError: no such escalation, it is closed, or no note was given.
    """
    found = _get(ws, escalation_id)
    if found.state is not EscalationState.OPEN or found.current.level is None:
        raise StateError(
            f"escalation {escalation_id} is {found.state.value}"
            + (f": {found.action_taken}" if found.action_taken else ""),
            fix="`aios escalation list` shows the open ones",
        )
    if not note.strip():
        raise StateError("an answer needs a note", fix="pass --note TEXT (it goes on the audit trail)")
    task = tasks.get(ws, found.task_id)
    what = f"answer escalation {escalation_id}"
    with audited(ws, actor=actor, what=what, task_id=found.task_id, session=session):
        decide(
            ws,
            Op.ANSWER_ESCALATION,
            actor=actor,
            session=session,
            task=task,
            at_least=found.current.authority,
        )
    with store.editing(ws) as roster:
        held = roster.by_id(escalation_id)
        assert held is not None  # escalations are never removed
        held.state, held.due_at = EscalationState.ANSWERED, None
        held.answered_by, held.answered_at, held.note = actor, store.stamp(store.clock()), note
    store.record_event(ws, found.task_id, actor=actor, text=f"escalation {escalation_id} answered: {note}")
    return held


def resolve_security(
    ws: Workspace, task_id: str, *, source: str, actor: str, session: Session | None = None
) -> list[str]:
    """Close the ``security`` escalations ``actor`` (the review) raised on the task once a later
    round (``source``) finds no critical security finding: the fix answers them, so a fixed
    finding does not run on to a freeze. One a person raised is left for a person to answer.

    Returns the ids closed.
    """

    def mine(held: Escalation) -> bool:
        return (
            held.task_id == task_id and held.raised_by == actor
            and held.type is EscalationType.SECURITY and held.state is EscalationState.OPEN
        )  # fmt: skip

    if not any(mine(e) for e in store.load(ws).escalations):
        return []  # the common case: nothing to close, nothing written
    note = f"{source} finds no critical security finding: fixed"
    closed: list[str] = []
    with store.editing(ws) as roster:
        for held in roster.escalations:
            if mine(held):
                held.state, held.due_at = EscalationState.ANSWERED, None
                held.answered_by, held.answered_at, held.note = actor, store.stamp(store.clock()), note
                closed.append(held.id)
    for escalation_id in closed:
        text = f"escalation {escalation_id} answered: {note}"
        store.record_event(ws, task_id, actor=actor, text=text, session=session and session.id)
    return closed


def listing(ws: Workspace, *, open_only: bool = False) -> list[Routed]:
    """Every escalation (or only the open ones), with who must answer each now."""
    project = ws.project
    return [
        _routed(project, e, [])
        for e in store.load(ws).escalations
        if not open_only or e.state is EscalationState.OPEN
    ]


def move_up_overdue(ws: Workspace, *, at: datetime | None = None) -> list[str]:
    """Move every escalation past its step's time up the matrix; take the final actions due.

    Returns one line per thing done (each also an event on its task's audit trail).
    """
    now = at or store.clock()
    events: list[tuple[str, str]] = []
    with store.editing(ws) as roster:
        for esc in roster.escalations:
            events += [(esc.task_id, line) for line in _move_up(ws.project, esc, now)]
        acting = [e.id for e in roster.escalations if e.state is EscalationState.OPEN and e.current.action]
    for task_id, line in events:
        store.record_event(ws, task_id, actor=MATRIX_ACTOR, text=line)
    done = [line for _, line in events]
    for escalation_id in acting:
        done.append(_enforce(ws, escalation_id))
    return done


def _move_up(project: Project, esc: Escalation, now: datetime) -> list[str]:
    lines: list[str] = []
    while esc.state is EscalationState.OPEN and esc.due_at and esc.current.level:
        expired = parse_time(esc.due_at)
        if expired > now:
            break
        step = esc.current
        silent = (
            f"escalation {esc.id} ({esc.type.value}): {LEVEL_NAMES[step.authority]} "
            f"did not answer within {step.answer_within}"
        )
        if esc.step + 1 >= len(esc.steps):
            esc.due_at = None  # the last level: it stays with them, overdue
            lines.append(f"{silent}; it is the last step, and stays open with them")
            break
        esc.step += 1
        if esc.current.action:
            lines.append(f"{silent}; the matrix takes its last step: {esc.current.action.value}")
            break
        notes = _to_holder(esc, project)
        esc.due_at = store.stamp(expired + esc.current.within)
        lines.append(f"{silent}; moved up: {describe(_routed(project, esc, notes))}")
    return lines


def _enforce(ws: Workspace, escalation_id: str) -> str:
    """Take the final action of an escalation at its action step, then close it (once, even if re-run)."""
    esc = _get(ws, escalation_id)
    why = f"escalation {esc.id} ({esc.type.value}) on {esc.task_id} unanswered: {esc.reason}"
    if esc.current.action is FinalAction.FREEZE:
        result = actions.freeze(ws, actor=MATRIX_ACTOR, reason=why, escalation=esc.id)
        taken = f"froze the system; the record is {result.freeze.record}"
    else:
        ended = [
            sessions.terminate(ws, sid, reason=why, actor=MATRIX_ACTOR, escalation=esc.id).id
            for sid in _targets(ws, esc)
        ]
        taken = (
            f"terminated session {', '.join(ended)}" if ended else "no live session of the agent to terminate"
        )
    with store.editing(ws) as roster:
        held = roster.by_id(escalation_id)
        assert held is not None
        held.state, held.due_at, held.action_taken = EscalationState.ENFORCED, None, taken
    line = f"escalation {esc.id} ({esc.type.value}) enforced by the matrix: {taken}"
    store.record_event(ws, esc.task_id, actor=MATRIX_ACTOR, text=line)
    return line


def _targets(ws: Workspace, esc: Escalation) -> list[str]:
    roster = session_store.load(ws)
    if esc.session_id:
        found = roster.by_id(esc.session_id)
        return [found.id] if found is not None and found.live() else []
    return [s.id for s in roster.sessions if s.agent_id == esc.agent_id and s.live()]


# ---- who answers ----


def _holders(project: Project, level: Level) -> list[str]:
    return [m.name for m in project.members if m.level is level]


def _to_holder(esc: Escalation, project: Project) -> list[str]:
    """Skip levels nobody holds, never into the matrix's action; returns what was skipped."""
    notes: list[str] = []
    while esc.current.level and not _holders(project, esc.current.authority):
        following = esc.steps[esc.step + 1] if esc.step + 1 < len(esc.steps) else None
        if following is None or following.level is None:
            break
        here, up = LEVEL_NAMES[esc.current.authority], LEVEL_NAMES[following.authority]
        notes.append(f"nobody holds {here}: moved up to {up}")
        esc.step += 1
    return notes


def _routed(project: Project, esc: Escalation, notes: list[str]) -> Routed:
    if esc.current.level is None:
        return Routed(esc, [], True, notes)
    level = esc.current.authority
    held = _holders(project, level)
    above = sorted((m for m in project.members if m.level < level), key=lambda m: (m.level, m.name))
    return Routed(esc, held or [m.name for m in above], bool(held), notes)


def describe(routed: Routed) -> str:
    """``L1 platform engineer must answer within 1h (by ...): carol`` (and skipped levels first)."""
    esc, level = routed.escalation, routed.level
    if level is None:
        action = esc.current.action.value if esc.current.action else "nothing"
        return f"the matrix's last step: {action}"
    names = ", ".join(routed.answerers) or "nobody"
    who = (
        f"{LEVEL_NAMES[level]} must answer"
        if routed.held
        else f"nobody holds {LEVEL_NAMES[level]}, so a member with more authority must answer"
    )
    by = f" within {esc.current.answer_within} (by {esc.due_at})" if esc.due_at else " (overdue)"
    return "; ".join([*routed.notes, f"{who}{by}: {names}"])


def _get(ws: Workspace, escalation_id: str) -> Escalation:
    found = store.load(ws).by_id(escalation_id)
    if found is None:
        raise StateError(
            f"no escalation {escalation_id!r}",
            file=ws.rel(ws.escalations_file),
            fix="`aios escalation list` shows them and their ids",
        )
    return found


def raise_security(
    ws: Workspace, task_id: str, *, refs: list[str], source: str, actor: str, session: Session | None = None
) -> Routed | None:
    """A ``security`` escalation for critical security findings (``source``: ``review round 2``),
    unless one is already open on the task (a re-run review step opens no second one).

    ``refs`` name the findings (dimension, rule, place), never their text: the audit trail is
    append-only, and a finding's words may quote a secret.
    """
    if any(
        e.task_id == task_id and e.type is EscalationType.SECURITY and e.state is EscalationState.OPEN
        for e in store.load(ws).escalations
    ):
        return None
    shown = ", ".join(refs[:8]) + (f" and {len(refs) - 8} more" if len(refs) > 8 else "")
    reason = f"{source}: {len(refs)} critical security finding(s): {shown}"
    return escalate(ws, task_id, kind=EscalationType.SECURITY, reason=reason, actor=actor, session=session)
