"""The lifecycle's routes: how the workflow brings a task to a status, one allowed action at a time."""

from __future__ import annotations

import pytest

from orchestrator.errors import TransitionError
from orchestrator.state import lifecycle
from orchestrator.state.lifecycle import Status

TID = "TASK_DEV_0001"


@pytest.mark.parametrize(
    ("start", "want", "blocked_from", "actions"),
    [
        (Status.RUNNING, Status.CODE_REVIEW, None, ["submit"]),
        (Status.CODE_REVIEW, Status.RUNNING, None, ["revise"]),
        (Status.REVIEWING, Status.RUNNING, None, ["reject"]),
        (Status.RUNNING, Status.REVIEWING, None, ["finish"]),
        (Status.CODE_REVIEW, Status.DONE, None, ["finish", "merge"]),
        (Status.RUNNING, Status.DONE, None, ["finish", "merge"]),
        (Status.REVIEWING, Status.BLOCKED, None, ["block"]),
        (Status.BLOCKED, Status.DONE, Status.REVIEWING, ["unblock", "merge"]),
        (Status.BLOCKED, Status.REVIEWING, Status.CODE_REVIEW, ["unblock", "finish"]),
        (Status.DONE, Status.DONE, None, []),
    ],
)
def test_path_lists_the_actions_that_reach_the_status(
    start: Status, want: Status, blocked_from: Status | None, actions: list[str]
) -> None:
    assert lifecycle.path(start, want, task_id=TID, blocked_from=blocked_from) == actions


@pytest.mark.parametrize("want", list(Status))
@pytest.mark.parametrize("start", list(Status))
def test_every_step_is_an_action_the_lifecycle_allows(start: Status, want: Status) -> None:
    action = lifecycle.step(start, want)
    assert action is None or action in lifecycle.allowed_actions(start)


@pytest.mark.parametrize(
    ("start", "want", "stuck_at"),
    [
        (Status.READY, Status.RUNNING, Status.READY),  # starting a task is a person's decision
        (Status.INBOX, Status.DONE, Status.INBOX),
        (Status.DONE, Status.RUNNING, Status.DONE),
        (Status.BLOCKED, Status.RUNNING, Status.READY),  # unblocked to ready, which needs `start`
    ],
)
def test_no_route_names_the_status_the_workflow_cannot_leave(
    start: Status, want: Status, stuck_at: Status
) -> None:
    assert lifecycle.step(stuck_at, want) is None
    with pytest.raises(TransitionError) as caught:
        lifecycle.path(start, want, task_id=TID, blocked_from=Status.READY)
    assert caught.value.message == f"{TID} is {stuck_at.value}; the workflow cannot move it to {want.value}"
    assert caught.value.fix == f"check it with `aios task status {TID}`"


def test_a_loop_made_by_a_hand_edit_ends_in_an_error() -> None:
    with pytest.raises(TransitionError, match="cannot move it to running"):
        lifecycle.path(Status.BLOCKED, Status.RUNNING, task_id=TID, blocked_from=Status.BLOCKED)
