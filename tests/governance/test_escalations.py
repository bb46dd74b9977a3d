"""Escalations: each type routes to the level the matrix names, moves up on silence, and ends in the
matrix's own action (a freeze, a terminated session); answers need the step's authority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers import add_member, agent_session, new_task

from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance import actions, escalations
from orchestrator.state import escalations as store
from orchestrator.state import freeze, tasks
from orchestrator.state import sessions as session_store
from orchestrator.state.escalations import MATRIX_ACTOR, EscalationState, EscalationType
from orchestrator.state.project import Level
from orchestrator.state.records import EventKind
from orchestrator.state.workspace import Workspace

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def team(ws: Workspace) -> Workspace:
    """alice owner L0, pat platform L1, lee lead L2, bob operator L3."""
    add_member(ws, "pat", Level.PLATFORM)
    add_member(ws, "lee", Level.LEAD)
    return Workspace(ws.root)


def _open(ws: Workspace, kind: EscalationType, **kw) -> escalations.Routed:
    tid = kw.pop("tid", None) or new_task(ws)
    return escalations.escalate(ws, tid, kind=kind, reason="help", actor="bob", at=T0, **kw)


@pytest.mark.parametrize(
    ("kind", "level", "answerers"),
    [
        (EscalationType.BLOCKED, Level.OPERATOR, ["bob"]),
        (EscalationType.SPEC_CONFLICT, Level.LEAD, ["lee"]),
        (EscalationType.SECURITY, Level.PLATFORM, ["pat"]),
    ],
)
def test_each_type_goes_first_to_the_level_the_matrix_names(team, kind, level, answerers) -> None:
    routed = _open(team, kind)
    assert (routed.level, routed.answerers, routed.held) == (level, answerers, True)
    assert (
        routed.escalation.due_at
        == "2026-12-06T"
        + {
            EscalationType.BLOCKED: "12:00:00Z",
            EscalationType.SPEC_CONFLICT: "16:00:00Z",
            EscalationType.SECURITY: "09:00:00Z",
        }[kind]
    )
    trail = [e for e in tasks.get(team, routed.escalation.task_id).events if e.kind is EventKind.ESCALATION]
    assert len(trail) == 1 and "must answer within" in trail[0].reason and answerers[0] in trail[0].reason


def test_agent_misbehavior_goes_to_the_operator_and_names_the_session(team) -> None:
    tid = new_task(team)
    session = agent_session(team, "rogue", scope=[tid])
    routed = _open(team, EscalationType.AGENT_MISBEHAVIOR, tid=tid, session_id=session.id)
    assert (routed.level, routed.answerers) == (Level.OPERATOR, ["bob"])
    with pytest.raises(StateError, match="names the agent"):
        _open(team, EscalationType.AGENT_MISBEHAVIOR, tid=tid)
    with pytest.raises(StateError, match="names no session"):
        _open(team, EscalationType.BLOCKED, tid=tid, session_id=session.id)


def test_a_level_nobody_holds_moves_up_at_once_and_says_so(ws) -> None:
    # Only alice (owner) and bob (operator): spec-conflict's lead and platform levels are empty.
    routed = _open(ws, EscalationType.SPEC_CONFLICT)
    assert (routed.level, routed.answerers) == (Level.OWNER, ["alice"])
    text = escalations.describe(routed)
    assert text.startswith(
        "nobody holds L2 project lead: moved up to L1 platform engineer; "
        "nobody holds L1 platform engineer: moved up to L0 project owner; L0 project owner must answer"
    )


def test_the_last_level_nobody_holds_is_answered_by_more_authority(ws) -> None:
    routed = _open(ws, EscalationType.BLOCKED)
    escalations.move_up_overdue(ws, at=T0 + timedelta(hours=4))  # bob did not answer: lead, then platform
    now = escalations.listing(ws)[0]
    assert (now.level, now.held, now.answerers) == (Level.PLATFORM, False, ["alice"])
    assert "a member with more authority must answer" in escalations.describe(now)
    assert routed.escalation.id == now.escalation.id


def test_timeout_moves_up_one_level_per_step_time(team) -> None:
    esc = _open(team, EscalationType.BLOCKED).escalation
    assert escalations.move_up_overdue(team, at=T0 + timedelta(hours=3, minutes=59)) == []
    lines = escalations.move_up_overdue(team, at=T0 + timedelta(hours=4))
    assert lines == [
        f"escalation {esc.id} (blocked): L3 human operator did not answer within 4h; moved up: "
        "L2 project lead must answer within 8h (by 2026-12-06T20:00:00Z): lee"
    ]
    # A day later both remaining steps ran out: it ends with the platform engineer, overdue.
    lines = escalations.move_up_overdue(team, at=T0 + timedelta(days=3))
    assert len(lines) == 2 and lines[-1].endswith("it is the last step, and stays open with them")
    held = store.load(team).by_id(esc.id)
    assert held.state is EscalationState.OPEN and held.current.level == "platform" and held.due_at is None
    events = [e for e in tasks.get(team, esc.task_id).events if e.kind is EventKind.ESCALATION]
    assert [e.actor for e in events] == ["bob", MATRIX_ACTOR, MATRIX_ACTOR, MATRIX_ACTOR]


def test_security_unanswered_freezes_the_system_through_aios_freeze(team) -> None:
    esc = _open(team, EscalationType.SECURITY).escalation
    lines = escalations.move_up_overdue(team, at=T0 + timedelta(hours=3))
    assert freeze.current(team) is not None
    frozen = freeze.current(team)
    assert frozen.by == MATRIX_ACTOR and esc.id in (frozen.reason or "")
    assert (team.root / frozen.record).is_file()  # the same freeze record `aios freeze` writes
    assert (
        lines[-1] == f"escalation {esc.id} (security) enforced by the matrix: froze the system; "
        f"the record is {frozen.record}"
    )
    assert store.load(team).by_id(esc.id).state is EscalationState.ENFORCED
    assert escalations.move_up_overdue(team, at=T0 + timedelta(days=1)) == []  # once


def test_the_matrix_freezes_only_at_an_escalations_freeze_step(team) -> None:
    esc = _open(team, EscalationType.SECURITY).escalation
    with pytest.raises(PermissionDenied, match="not open at its `freeze` step"):
        actions.freeze(team, actor=MATRIX_ACTOR, reason="x", escalation=esc.id)
    assert freeze.current(team) is None


def test_agent_misbehavior_unanswered_terminates_the_session(team) -> None:
    tid = new_task(team)
    session = agent_session(team, "rogue", scope=[tid])
    other = agent_session(team, "fine", scope=[tid])
    esc = _open(team, EscalationType.AGENT_MISBEHAVIOR, tid=tid, session_id=session.id).escalation
    lines = escalations.move_up_overdue(team, at=T0 + timedelta(hours=3))
    assert (
        lines[-1]
        == f"escalation {esc.id} (agent-misbehavior) enforced by the matrix: terminated session {session.id}"
    )
    roster = session_store.load(team)
    assert roster.by_id(session.id).state is session_store.SessionState.TERMINATED
    assert roster.by_id(session.id).terminated_by == MATRIX_ACTOR
    assert roster.by_id(other.id).state is session_store.SessionState.ACTIVE
    assert freeze.current(team) is None


def test_an_answer_needs_the_steps_authority_and_closes_it(team) -> None:
    esc = _open(team, EscalationType.SECURITY).escalation  # at L1 platform
    with pytest.raises(
        PermissionDenied, match=r"bob \(L3 human operator\) may not answer an escalation: it needs an L1"
    ):
        escalations.answer(team, esc.id, note="fine", actor="bob")
    violations = [e for e in tasks.get(team, esc.task_id).events if e.kind is EventKind.VIOLATION]
    assert len(violations) == 1 and "answer escalation" in violations[0].reason
    done = escalations.answer(team, esc.id, note="key rotated", actor="pat")
    assert (done.state, done.answered_by, done.due_at) == (EscalationState.ANSWERED, "pat", None)
    assert escalations.move_up_overdue(team, at=T0 + timedelta(days=1)) == []
    assert freeze.current(team) is None
    with pytest.raises(StateError, match="is answered"):
        escalations.answer(team, esc.id, note="again", actor="alice")


def test_an_agent_escalates_in_its_scope_but_never_answers(team) -> None:
    tid = new_task(team)
    session = agent_session(team, "worker", scope=[tid])
    routed = escalations.escalate(
        team, tid, kind=EscalationType.BLOCKED, reason="tests need a db", actor=session.actor, session=session
    )
    with pytest.raises(PermissionDenied):
        escalations.answer(team, routed.escalation.id, note="ok", actor=session.actor, session=session)
    with pytest.raises(PermissionDenied, match="outside the task scope"):
        escalations.escalate(
            team,
            new_task(team),
            kind=EscalationType.BLOCKED,
            reason="x",
            actor=session.actor,
            session=session,
        )


def test_a_critical_security_finding_escalates_once_per_open_escalation(team) -> None:
    tid = new_task(team)
    first = escalations.raise_security(
        team, tid, refs=["Q secret app.py:3"], source="review round 1", actor="alice"
    )
    assert first is not None and first.escalation.type is EscalationType.SECURITY
    assert first.escalation.reason == "review round 1: 1 critical security finding(s): Q secret app.py:3"
    again = escalations.raise_security(
        team, tid, refs=["Q secret app.py:3"], source="review round 1", actor="alice"
    )
    assert again is None and len(store.load(team).escalations) == 1


def test_a_fixed_finding_closes_only_the_security_escalation_the_review_raised(team) -> None:
    tid, other = new_task(team), new_task(team)
    assert escalations.resolve_security(team, tid, source="review round 1", actor="lee") == []
    assert not team.escalations_file.exists()  # nothing open: nothing written
    mine = escalations.raise_security(team, tid, refs=["Q S608 a.py:1"], source="r1", actor="lee")
    theirs = escalations.escalate(team, other, kind=EscalationType.SECURITY, reason="seen", actor="bob")
    assert mine is not None
    closed = escalations.resolve_security(team, tid, source="review round 2", actor="lee")
    assert closed == [mine.escalation.id]
    assert escalations.resolve_security(team, other, source="review round 2", actor="lee") == []
    states = {e.id: e.state for e in store.load(team).escalations}
    assert states == {
        mine.escalation.id: EscalationState.ANSWERED,
        theirs.escalation.id: EscalationState.OPEN,
    }


def test_overdue_reads_only_due_times(team) -> None:
    assert not store.overdue(team, T0)  # no file yet
    _open(team, EscalationType.SECURITY)
    assert not store.overdue(team, T0 + timedelta(minutes=59))
    assert store.overdue(team, T0 + timedelta(hours=1))
