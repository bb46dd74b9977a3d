"""``orchestrator.workflow.runs``: the service every shell calls (end to end in ``test_wiring.py``)."""

from __future__ import annotations

import pytest

from orchestrator.errors import StateError
from orchestrator.review import policy
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs


def test_a_human_decision_is_answered_not_decided() -> None:
    """``decide`` is the review policy's verdict; the checkpoint's answer has its own name."""
    assert callable(runs.answer) and not hasattr(runs, "decide")
    assert callable(policy.decide)


@pytest.mark.parametrize("feedback", [None, "", "   "])
def test_rejecting_needs_feedback_for_the_builder(ws: Workspace, feedback: str | None) -> None:
    with pytest.raises(StateError) as caught:
        runs.answer(ws, "TASK_DEV_0001", "reject", actor="alice", feedback=feedback)
    assert (caught.value.message, caught.value.fix) == (
        "rejecting needs feedback for the builder",
        "pass --feedback TEXT",
    )
