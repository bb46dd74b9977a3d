"""Governed actions: authority decides, the state layer applies whatever rule it is handed."""

from __future__ import annotations

import pytest
from helpers import agent_session

from orchestrator.errors import PermissionDenied
from orchestrator.governance import actions
from orchestrator.state import queues, tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import TaskState
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace


def new_task(ws: Workspace) -> str:
    card = TaskCard(
        id="TASK_DEV_0000", title="t", queue="dev", acceptance_criteria=[Criterion(id="AC1", text="x")]
    )
    return tasks.create(ws, card, actor="alice").id


def refuse(*args: object) -> None:
    raise PermissionDenied("refused by the test's rule")


def test_the_state_layer_applies_a_move_only_if_the_rule_it_is_handed_allows(ws: Workspace) -> None:
    tid = new_task(ws)
    with pytest.raises(PermissionDenied, match="the test's rule"):
        tasks.transition(ws, tid, "approve", actor="alice", authorise=refuse)
    assert tasks.get(ws, tid).status is Status.INBOX and len(tasks.get(ws, tid).events) == 1
    asked: list[tuple[str, str]] = []

    def allow(ws_: Workspace, task: TaskState, action: str, actor: str) -> None:
        asked.append((action, actor))

    # The same rule is asked before each step of a route, with the task as it is at that step.
    tasks.transition(ws, tid, "approve", actor="agent:x", authorise=allow)
    tasks.transition(ws, tid, "start", actor="agent:x", authorise=allow)
    tasks.advance(ws, tid, Status.DONE, actor="agent:x", authorise=allow, reason="r")
    assert asked == [(a, "agent:x") for a in ("approve", "start", "finish", "merge")]
    assert tasks.get(ws, tid).status is Status.DONE


def test_governed_actions_pass_the_projects_rules(ws: Workspace) -> None:
    tid = new_task(ws)
    agent = agent_session(ws, "x", scope=[tid])
    with pytest.raises(PermissionDenied, match="builder mode, which may not approve a task to start"):
        actions.transition(ws, tid, "approve", actor=agent.actor, session=agent)
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor=agent.actor, session=agent)
    actions.transition(ws, tid, "finish", actor=agent.actor, session=agent)
    with pytest.raises(PermissionDenied, match="approve a merge"):
        actions.advance(ws, tid, Status.DONE, actor=agent.actor, session=agent, reason="r")
    assert tasks.get(ws, tid).status is Status.REVIEWING
    with pytest.raises(PermissionDenied, match="acts only through a live session"):
        actions.transition(ws, tid, "block", actor="agent:x", reason="no session")


def test_queue_locks_need_the_lock_and_unlock_authority(ws: Workspace) -> None:
    with pytest.raises(PermissionDenied, match="the test's rule"):
        queues.set_lock(ws, ["dev"], locked=True, actor="alice", authorise=refuse)
    assert queues.status(ws)[0]["locked"] is False
    agent = agent_session(ws, "x")
    with pytest.raises(PermissionDenied, match="builder mode, which may not lock a queue"):
        actions.set_lock(ws, ["dev"], locked=True, actor=agent.actor, session=agent)
    assert actions.set_lock(ws, ["dev"], locked=True, actor="bob") == ["dev"]  # an operator may lock
    with pytest.raises(PermissionDenied, match="may not unlock a queue: it needs an L1 platform engineer"):
        actions.set_lock(ws, ["dev"], locked=False, actor="bob")  # ... but not unlock
    assert actions.set_lock(ws, ["dev"], locked=False, actor="alice") == ["dev"]
