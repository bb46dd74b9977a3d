"""Deviations: expiry, state and scope."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.errors import StateError
from orchestrator.state import deviations
from orchestrator.state.deviations import DeviationState
from orchestrator.state.workspace import Workspace

NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("12h", "2026-12-07T00:00:00Z"), ("7d", "2026-12-13T12:00:00Z"), ("2w", "2026-12-20T12:00:00Z"),
     ("2026-12-31", "2026-12-31T00:00:00Z"), ("2027-01-02T03:04:05+01:00", "2027-01-02T02:04:05Z")],
)  # fmt: skip
def test_expiry_takes_a_duration_or_a_time(given: str, expected: str) -> None:
    assert deviations.expiry(given, at=NOON) == expected


@pytest.mark.parametrize("given", ["soon", "7x", "2026-12-01", "0d"])
def test_expiry_refuses_nonsense_and_the_past(given: str) -> None:
    with pytest.raises(StateError) as caught:
        deviations.expiry(given, at=NOON)
    assert caught.value.fix and "duration" in caught.value.fix


def test_a_deviation_is_open_then_expired_or_resolved(ws: Workspace) -> None:
    made = deviations.new(
        ws, reason="r", by="alice", expires_at="2021-01-01T00:00:00Z", tasks=["TASK_DEV_0001"]
    )
    assert made.state(LONG_AGO) is DeviationState.OPEN and made.state() is DeviationState.EXPIRED
    assert made.covers("TASK_DEV_0001") and not made.covers("TASK_DEV_0002")
    assert [d.id for d in deviations.covering(ws, "TASK_DEV_0001")] == [made.id]
    done = deviations.resolve(ws, made.id, by="alice", resolution="reviewed")
    assert done.state(LONG_AGO) is DeviationState.RESOLVED and deviations.covering(ws, "TASK_DEV_0001") == []
    with pytest.raises(StateError, match="was resolved by alice"):
        deviations.resolve(ws, made.id, by="alice", resolution="again")


def test_a_deviation_needs_a_scope(ws: Workspace) -> None:
    with pytest.raises(StateError) as caught:
        deviations.new(ws, reason="r", by="alice", expires_at="2999-01-01")
    assert "needs a scope" in caught.value.message
    assert list(ws.deviations_dir.glob("*.md")) == []
