"""Queue rules: a full queue and a locked one start nothing, and say why."""

from __future__ import annotations

import pytest
from helpers import ready_task

from orchestrator.errors import PermissionDenied, QueueError
from orchestrator.governance import actions
from orchestrator.state import queues
from orchestrator.state.workspace import Workspace


def test_queue_limit_is_enforced_and_names_what_runs(ws: Workspace) -> None:
    ids = [ready_task(ws) for _ in range(4)]
    for tid in ids[:3]:
        actions.transition(ws, tid, "start", actor="alice")
    with pytest.raises(QueueError) as err:
        actions.transition(ws, ids[3], "start", actor="alice")
    assert err.value.message == f"queue dev is full: 3 of 3 running ({', '.join(ids[:3])})"
    actions.transition(ws, ids[0], "finish", actor="alice")  # releases the slot
    actions.transition(ws, ids[3], "start", actor="alice")
    assert sorted(queues.status(ws)[2]["running"]) == sorted([ids[1], ids[2], ids[3]])


def test_locked_queue_starts_nothing(ws: Workspace) -> None:
    tid = ready_task(ws)
    assert actions.set_lock(ws, ["dev"], locked=True, actor="bob", reason="incident 42") == ["dev"]
    with pytest.raises(QueueError, match=r"queue dev is locked \(SYSTEM_LOCK by bob\) \(incident 42\)"):
        actions.transition(ws, tid, "start", actor="alice")
    with pytest.raises(PermissionDenied, match="may not unlock a queue: it needs an L1"):
        actions.set_lock(ws, ["dev"], locked=False, actor="bob")
    actions.set_lock(ws, ["dev"], locked=False, actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    assert "dev locked by bob · incident 42" in (ws.root / "ops/freeze/queue-locks.md").read_text()


def test_hand_written_system_lock_in_index_is_honoured(ws: Workspace) -> None:
    tid = ready_task(ws)
    text = ws.index_file.read_text().replace("  dev: {running: []}", "  dev: SYSTEM_LOCK")
    ws.index_file.write_text(text)
    with pytest.raises(QueueError, match="queue dev is locked"):
        actions.transition(ws, tid, "start", actor="alice")
    assert queues.status(ws)[2]["locked"] is True
    # Removing the lock by hand (the operating model's "release stuck queue") works too.
    ws.index_file.write_text(ws.index_file.read_text().replace("dev: SYSTEM_LOCK", "dev: null"))
    actions.transition(ws, tid, "start", actor="alice")
