"""Crash recovery of an interrupted commit, and the hand-rolled index format."""

from __future__ import annotations

import pytest
import yaml

from orchestrator.state import audit, tasks
from orchestrator.state.audit import recorded_count
from orchestrator.state.lifecycle import Status
from orchestrator.state.store import Index, IndexEntry, QueueState, Store, render_index
from orchestrator.state.workspace import Workspace

from .test_tasks import ready_task


class Killed(BaseException):
    """Stands in for SIGKILL at one point of a commit."""


def test_commit_killed_before_the_index_is_recovered(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = ready_task(ws)
    real = Store._write_index

    def die(self: Store, index: Index) -> None:
        raise Killed

    monkeypatch.setattr(Store, "_write_index", die)
    with pytest.raises(Killed):
        tasks.transition(ws, tid, "start", actor="alice")
    monkeypatch.setattr(Store, "_write_index", real)
    assert tasks.get(ws, tid).status is Status.RUNNING  # the task file (source of truth) was written
    assert Store(ws).read_index().tasks[tid].status is Status.READY  # the index was not
    assert (ws.state_dir / ".journal").exists()

    tasks.transition(ws, ready_task(ws), "start", actor="alice")  # any next write recovers first
    assert Store(ws).read_index().tasks[tid].status is Status.RUNNING
    assert recorded_count(ws, tid) == len(tasks.get(ws, tid).events)
    assert not (ws.state_dir / ".journal").exists()


def test_commit_killed_before_the_audit_is_recovered(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = ready_task(ws)
    real = audit.append
    monkeypatch.setattr(audit, "append", lambda *a, **k: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        tasks.transition(ws, tid, "start", actor="alice")
    monkeypatch.setattr(audit, "append", real)
    assert recorded_count(ws, tid) == 2
    tasks.note(ws, tid, actor="alice", reason="after the crash")
    assert recorded_count(ws, tid) == len(tasks.get(ws, tid).events) == 4
    text = (ws.audit_dir / f"{tid}.md").read_text()
    assert text.index("ready → running") < text.index("after the crash")


def test_index_renders_as_yaml_that_loads_back_equal() -> None:
    index = Index(
        seq=9,
        next_number={"DEV": 3},
        queues={
            "dev": QueueState(lock="SYSTEM_LOCK", locked_by="a b", reason='it\'s: odd "quoted"'),
            "data": QueueState(),
        },
        tasks={
            "TASK_DEV_0001": IndexEntry(
                status=Status.RUNNING, queue="dev", title="yes: no [x] #1 ünï", mtime=5
            ),
            "TASK_DEV_0002": IndexEntry(status=Status.READY, queue="dev", title="null"),
        },
    )
    loaded = Index.model_validate(yaml.safe_load(render_index(index)))
    assert loaded.tasks == index.tasks
    assert loaded.queues["dev"].reason == index.queues["dev"].reason
