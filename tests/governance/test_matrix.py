"""Every cell of the authority levels and the role-mode matrix, through the services the CLI calls.

For each principal (a member at each level, an agent session in each role mode) and each governed
operation, the test sets up a task where the operation is otherwise possible, calls the same
service function the CLI command calls, and checks: allowed exactly when the table says so, and
each refusal on the audit trail (the task's, or the governance log for actions on no task).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from helpers import add_member

from orchestrator.errors import PermissionDenied
from orchestrator.governance import actions, agents, decisions, deviations, escalations, members, sessions
from orchestrator.governance.matrix import Op
from orchestrator.state import tasks
from orchestrator.state.escalations import EscalationType
from orchestrator.state.lifecycle import Status
from orchestrator.state.project import Level
from orchestrator.state.records import EventKind
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import Criterion, RoleMode, TaskCard
from orchestrator.state.workspace import Workspace

#: The expected decision of every cell, written out from the operating model (not read from the code):
#: members by authority level L0..L3, then agent sessions by role mode.
EXPECTED = """
op                 L0 L1 L2 L3 | architect planner executor builder reviewer
read               y  y  y  y  | y         y       y        y       y
create_task        y  y  y  y  | y         y       -        -       -
approve_task       y  y  y  y  | -         -       -        -       -
start              y  y  y  y  | -         -       y        y       -
write_code         y  y  y  y  | -         -       y        y       -
submit             y  y  y  y  | -         -       y        y       -
revise             y  y  y  y  | -         -       y        y       y
finish             y  y  y  y  | -         -       y        y       -
clear_review       y  y  y  y  | -         -       -        -       y
reject             y  y  y  y  | -         -       -        -       -
merge              y  y  y  -  | -         -       -        -       -
block              y  y  y  y  | -         -       y        y       y
unblock            y  y  y  y  | -         -       -        -       -
stop               y  y  y  y  | -         -       -        -       -
decide_escalation  y  y  y  y  | -         -       -        -       -
propose            y  y  y  y  | y         y       -        -       -
lock_queue         y  y  y  y  | -         -       -        -       -
unlock_queue       y  y  -  -  | -         -       -        -       -
freeze             y  -  -  -  | -         -       -        -       -
unfreeze           y  -  -  -  | -         -       -        -       -
manage_members     y  -  -  -  | -         -       -        -       -
register_agent     y  y  y  -  | -         -       -        -       -
approve_agent      y  y  y  -  | -         -       -        -       -
create_session     y  y  y  y  | -         -       -        -       -
terminate_session  y  y  y  y  | y         y       y        y       y
dismiss_finding    y  y  y  -  | -         -       -        -       -
record_decision    y  y  y  -  | -         -       -        -       -
decide_proposal    y  y  y  -  | -         -       -        -       -
deviate            y  y  y  -  | -         -       -        -       -
escalate           y  y  y  y  | y         y       y        y       y
answer_escalation  y  y  y  y  | -         -       -        -       -
prune_agents       y  y  y  -  | -         -       -        -       -
"""


def expected(op: Op, column: int) -> bool:
    for line in EXPECTED.strip().splitlines()[1:]:
        cells = line.replace("|", " ").split()
        if cells[0] == op.value:
            return cells[1 + column] == "y"
    raise AssertionError(f"{op.value} is missing from EXPECTED")


MEMBERS = {Level.OWNER: "alice", Level.PLATFORM: "pat", Level.LEAD: "lee", Level.OPERATOR: "bob"}
#: The owner who sets each cell up.
SETUP = "alice"


@dataclass
class Who:
    actor: str
    session: Session | None = None
    level: Level | None = None
    mode: RoleMode | None = None


def card(queue: str = "dev", mode: RoleMode = RoleMode.BUILDER) -> TaskCard:
    return TaskCard(
        id=f"TASK_{queue.upper()}_0000",
        title="cell",
        queue=queue,
        role_mode=mode,
        acceptance_criteria=[Criterion(id="AC1", text="ok")],
    )


def task_at(ws: Workspace, status: Status, mode: RoleMode) -> str:
    """A dev task of ``mode`` brought to ``status`` by the owner."""
    tid = actions.create_task(ws, card(mode=mode), actor=SETUP).id
    route = {
        Status.INBOX: [],
        Status.READY: ["approve"],
        Status.RUNNING: ["approve", "start"],
        Status.CODE_REVIEW: ["approve", "start", "submit"],
        Status.REVIEWING: ["approve", "start", "finish"],
        Status.BLOCKED: ["approve", "start"],
    }[status]
    for action in route:
        actions.transition(ws, tid, action, actor=SETUP)
    if status is Status.BLOCKED:
        actions.transition(ws, tid, "block", actor=SETUP, reason="set up")
    return tid


def as_agent(ws: Workspace, mode: RoleMode, tid: str | None) -> Who:
    agent_id = f"cell-{mode.value}"
    if agents.store.load(ws).get(agent_id) is None:
        agents.register(ws, agent_id, role_modes=[mode], queues=None, actor=SETUP)
    opened, _ = sessions.create(
        ws, agent_id=agent_id, role_mode=mode, task_scope=[tid] if tid else [], actor=SETUP
    )
    return Who(actor=opened.actor, session=opened, mode=mode)


#: How each operation is tried: (status the task needs, or None for an action on no task; the call).
Attempt = Callable[[Workspace, Who, str | None], object]


def _move(action: str, reason: str | None = None) -> Attempt:
    return lambda ws, who, tid: actions.transition(
        ws, tid, action, actor=who.actor, session=who.session, reason=reason
    )


def _require(op: Op) -> Attempt:
    # What `aios review run|submit|approve|reject` (runs.run / runs.answer) call first.
    return lambda ws, who, tid: actions.require(ws, op, actor=who.actor, session=who.session, task_id=tid)


def _proposal(ws: Workspace, who: Who, tid: str | None) -> object:
    pending = decisions.propose(ws, title="cell", actor=SETUP)
    return decisions.settle(ws, pending.id, accept=True, reason="ok", actor=who.actor, session=who.session)


def _pending_agent(ws: Workspace, who: Who, tid: str | None) -> object:
    pending = agents.request(ws, "asks", role_modes=[RoleMode.BUILDER], queues=None, via="test")
    return agents.approve(
        ws, pending.id, role_modes=[RoleMode.BUILDER], queues=None, actor=who.actor, session=who.session
    )


def _terminate(ws: Workspace, who: Who, tid: str | None) -> object:
    # An agent ends its own session; a member ends one of another agent's.
    target = who.session.id if who.session else as_agent(ws, RoleMode.BUILDER, None).session.id  # type: ignore[union-attr]
    return sessions.terminate(ws, target, reason="cell", actor=who.actor, session=who.session)


def _answer(ws: Workspace, who: Who, tid: str | None) -> object:
    # A blocked escalation starts at L3 (bob holds it): every member may answer, no agent.
    opened = escalations.escalate(ws, tid, kind=EscalationType.BLOCKED, reason="stuck", actor=SETUP)  # type: ignore[arg-type]
    return escalations.answer(ws, opened.escalation.id, note="done", actor=who.actor, session=who.session)


ATTEMPTS: dict[Op, tuple[Status | None, Attempt]] = {
    Op.READ: (
        Status.RUNNING,
        lambda ws, who, tid: actions.note(ws, tid, actor=who.actor, session=who.session, reason="n"),
    ),
    Op.CREATE_TASK: (
        None,
        lambda ws, who, tid: actions.create_task(ws, card(), actor=who.actor, session=who.session),
    ),
    Op.APPROVE_TASK: (Status.INBOX, _move("approve")),
    Op.START: (Status.READY, _move("start")),
    Op.WRITE_CODE: (Status.RUNNING, _require(Op.WRITE_CODE)),
    Op.SUBMIT: (Status.RUNNING, _move("submit")),
    Op.REVISE: (Status.CODE_REVIEW, _move("revise")),
    Op.FINISH: (Status.RUNNING, _move("finish")),
    Op.CLEAR_REVIEW: (Status.CODE_REVIEW, _move("finish")),
    Op.REJECT: (Status.REVIEWING, _require(Op.REJECT)),
    Op.MERGE: (Status.REVIEWING, _move("merge")),
    Op.BLOCK: (Status.RUNNING, _move("block", reason="stuck")),
    Op.UNBLOCK: (Status.BLOCKED, _move("unblock")),
    Op.STOP: (
        Status.RUNNING,
        lambda ws, who, tid: actions.stop(ws, tid, actor=who.actor, session=who.session, reason="halt"),
    ),
    Op.DECIDE_ESCALATION: (Status.BLOCKED, _require(Op.DECIDE_ESCALATION)),
    Op.PROPOSE: (None, _require(Op.PROPOSE)),
    Op.LOCK_QUEUE: (
        None,
        lambda ws, who, tid: actions.set_lock(
            ws, ["data"], locked=True, actor=who.actor, session=who.session
        ),
    ),
    Op.UNLOCK_QUEUE: (
        None,
        lambda ws, who, tid: actions.set_lock(
            ws, ["research"], locked=False, actor=who.actor, session=who.session
        ),
    ),
    Op.FREEZE: (
        None,
        lambda ws, who, tid: actions.freeze(ws, actor=who.actor, session=who.session, reason="x"),
    ),
    Op.UNFREEZE: (None, lambda ws, who, tid: actions.unfreeze(ws, actor=who.actor, session=who.session)),
    Op.MANAGE_MEMBERS: (
        None,
        lambda ws, who, tid: members.add(ws, "newcomer", "operator", actor=who.actor, session=who.session),
    ),
    Op.REGISTER_AGENT: (
        None,
        lambda ws, who, tid: agents.register(
            ws, "new", role_modes=[RoleMode.BUILDER], queues=None, actor=who.actor, session=who.session
        ),
    ),
    Op.APPROVE_AGENT: (None, _pending_agent),
    Op.CREATE_SESSION: (
        None,
        lambda ws, who, tid: sessions.create(
            ws,
            agent_id=as_agent(ws, RoleMode.BUILDER, None).session.agent_id,
            role_mode=RoleMode.BUILDER,
            task_scope=[],
            actor=who.actor,
            session=who.session,
        ),
    ),  # type: ignore[union-attr]
    Op.TERMINATE_SESSION: (None, _terminate),
    Op.DISMISS_FINDING: (
        Status.REVIEWING,
        lambda ws, who, tid: actions.dismiss_finding(
            ws, tid, "0123456789ab", actor=who.actor, session=who.session, reason="accepted risk"
        ),
    ),
    Op.RECORD_DECISION: (
        Status.RUNNING,
        lambda ws, who, tid: decisions.record(
            ws, title="cell", task_ids=[tid], actor=who.actor, session=who.session
        ),
    ),
    Op.DECIDE_PROPOSAL: (None, _proposal),
    Op.DEVIATE: (
        Status.RUNNING,
        lambda ws, who, tid: deviations.declare(
            ws, reason="cell", expires="1d", task_ids=[tid], actor=who.actor, session=who.session
        ),
    ),
    Op.ESCALATE: (
        Status.RUNNING,
        lambda ws, who, tid: escalations.escalate(
            ws, tid, kind=EscalationType.BLOCKED, reason="stuck", actor=who.actor, session=who.session
        ),
    ),
    Op.ANSWER_ESCALATION: (Status.RUNNING, _answer),
    Op.PRUNE_AGENTS: (
        None,
        lambda ws, who, tid: agents.prune(ws, actor=who.actor, session=who.session, dry_run=True),
    ),
}


def test_every_operation_is_tried() -> None:
    assert set(ATTEMPTS) == set(Op)
    assert [line.split()[0] for line in EXPECTED.strip().splitlines()[1:]] == [op.value for op in Op]


def _refusals(ws: Workspace, tid: str | None) -> int:
    if tid is not None:
        return sum(1 for e in tasks.get(ws, tid).events if e.kind is EventKind.VIOLATION)
    log = ws.governance_log
    return log.read_text().count("· violation ·") if log.exists() else 0


PRINCIPALS = [*(("member", level) for level in Level), *(("agent", mode) for mode in RoleMode)]


@pytest.mark.parametrize(("kind", "who_is"), PRINCIPALS, ids=[f"{k}-{w.name.lower()}" for k, w in PRINCIPALS])
def test_every_cell_is_decided_by_the_tables_and_refusals_are_audited(
    ws: Workspace, kind: str, who_is
) -> None:
    for level, name in MEMBERS.items():
        if level is not Level.OWNER:
            add_member(ws, name, level)
    ws.project_file.write_text(ws.project_file.read_text().replace("max_concurrent: 3", "max_concurrent: 99"))
    ws = Workspace(ws.root)
    actions.set_lock(ws, ["research"], locked=True, actor=SETUP)  # for the unlock cell
    wrong: list[str] = []
    for op, (status, attempt) in ATTEMPTS.items():
        mode = (
            who_is
            if kind == "agent" and who_is in (RoleMode.BUILDER, RoleMode.EXECUTOR)
            else RoleMode.BUILDER
        )
        tid = task_at(ws, status, mode) if status is not None else None
        if kind == "member":
            who = Who(actor=MEMBERS[who_is], level=who_is)
            column = int(who_is)
        else:
            who = as_agent(ws, who_is, tid)
            column = 4 + list(RoleMode).index(who_is)
        before = _refusals(ws, tid)
        try:
            attempt(ws, who, tid)
            allowed = True
        except PermissionDenied:
            allowed = False
        if allowed != expected(op, column):
            wrong.append(f"{op.value}: {'allowed' if allowed else 'refused'}, the table says the opposite")
        elif not allowed and _refusals(ws, tid) != before + 1:
            wrong.append(f"{op.value}: refused but not audited")
    assert wrong == []


def test_every_lifecycle_action_maps_to_its_operation_explicitly() -> None:
    from orchestrator.errors import TransitionError
    from orchestrator.governance.matrix import ACTION_OPS, task_op
    from orchestrator.state.lifecycle import ACTIONS, Status

    assert set(ACTION_OPS) == set(ACTIONS)  # a new lifecycle action must be mapped on purpose
    assert task_op("approve", Status.INBOX) is Op.APPROVE_TASK
    assert task_op("finish", Status.RUNNING) is Op.FINISH
    assert task_op("finish", Status.CODE_REVIEW) is Op.CLEAR_REVIEW
    assert {task_op(a, Status.RUNNING) for a in ACTIONS if a != "finish"} == {
        ACTION_OPS[a] for a in ACTIONS if a != "finish"
    }
    # An operation whose value happens to equal a word is not an action: no mapping by name.
    with pytest.raises(TransitionError) as caught:
        task_op("freeze", Status.RUNNING)
    assert caught.value.message == "'freeze' is not a lifecycle action"
    assert caught.value.fix is not None and "approve, start" in caught.value.fix
