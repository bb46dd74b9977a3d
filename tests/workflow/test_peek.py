"""``workflow.peek``: a run's status read from its checkpoint without the graph stack is the one
``runs.status`` gives, or no answer at all."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import new_task, reviewed_once

from orchestrator.governance import actions
from orchestrator.state import _cache, tasks
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import peek, runs
from orchestrator.workflow.status import RunFinding, RunStatus


@pytest.fixture(autouse=True)
def no_racy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cache, "RACY_NS", -(10**9))


def full(ws: Workspace, tid: str) -> dict[str, object]:
    return runs.status(ws, tid).model_dump(mode="json")


def test_the_keys_are_the_run_status_contract() -> None:
    assert tuple(RunStatus.model_fields) == peek.STATUS_KEYS
    assert tuple(RunFinding.model_fields) == peek.FINDING_KEYS


def test_before_any_run_it_reads_what_the_graph_reports(ws: Workspace) -> None:
    tid = new_task(ws)
    actions.transition(ws, tid, "approve", actor="alice")
    assert peek.status(ws, tid) == full(ws, tid)


def test_after_a_round_it_reads_the_checkpoint_as_the_graph_does(ws: Workspace) -> None:
    tid = reviewed_once(ws)
    tasks.get(ws, tid, keep=True)
    found = peek.status(ws, tid)
    assert found == full(ws, tid)
    assert found is not None and found["waiting_for"] == "human_review" and found["round"] == 1
    assert [f["message"] for f in found["findings"]] == ["leftover debug print"]


def test_a_step_cut_short_is_left_to_the_graph(ws: Workspace) -> None:
    tid = reviewed_once(ws)
    db = sqlite3.connect(ws.checkpoints_db)
    with db:  # a node's write pending on the latest checkpoint, as a killed process leaves it
        (checkpoint_id,) = db.execute("SELECT max(checkpoint_id) FROM checkpoints").fetchone()
        db.execute(
            "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, "
            "value) VALUES (?, '', ?, 'task', 0, 'verdict', 'msgpack', ?)",
            (tid, checkpoint_id, b"\xa8APPROVED"),
        )
    db.close()
    assert peek.status(ws, tid) is None


def test_a_configured_checkpoint_server_is_left_to_the_full_path(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = reviewed_once(ws)
    monkeypatch.setenv("AIOS_CHECKPOINT_URL", "postgresql://db.example/aios")
    assert peek.status(ws, tid) is None


def test_a_merge_that_may_be_next_is_left_to_the_graph() -> None:
    triggered = {"channel_versions": {"branch:to:merge": "0002"}, "versions_seen": {"merge": {}}}
    ran = {
        "channel_versions": {"branch:to:merge": "0002"},
        "versions_seen": {"merge": {"branch:to:merge": "0002"}},
    }
    assert peek._merge_may_be_next(triggered)
    assert not peek._merge_may_be_next(ran)
    assert not peek._merge_may_be_next({"channel_versions": {}, "versions_seen": {}})
