"""Crash recovery of an interrupted commit, and the hand-rolled index format."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.governance import actions
from orchestrator.state import audit, tasks
from orchestrator.state import store as store_module
from orchestrator.state.audit import recorded_count
from orchestrator.state.check import check_state
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Index, IndexEntry, QueueState
from orchestrator.state.store import Store, render_index
from orchestrator.state.workspace import Workspace

from .test_tasks import new_task, ready_task


class Killed(BaseException):
    """Stands in for SIGKILL at one point of a commit."""


def test_commit_killed_before_the_index_is_recovered(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = ready_task(ws)
    real = Store._write_index

    def die(self: Store, index: Index) -> None:
        raise Killed

    monkeypatch.setattr(Store, "_write_index", die)
    with pytest.raises(Killed):
        actions.transition(ws, tid, "start", actor="alice")
    monkeypatch.setattr(Store, "_write_index", real)
    assert tasks.get(ws, tid).status is Status.RUNNING  # the task file (source of truth) was written
    assert Store(ws).read_index().tasks[tid].status is Status.READY  # the index was not
    assert (ws.state_dir / ".journal").exists()

    actions.transition(ws, ready_task(ws), "start", actor="alice")  # any next write recovers first
    assert Store(ws).read_index().tasks[tid].status is Status.RUNNING
    assert recorded_count(ws, tid) == len(tasks.get(ws, tid).events)
    assert not (ws.state_dir / ".journal").exists()


def test_commit_killed_before_the_audit_is_recovered(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = ready_task(ws)
    real = audit.append
    monkeypatch.setattr(audit, "append", lambda *a, **k: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        actions.transition(ws, tid, "start", actor="alice")
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


# ---- a kill at every write point of a commit ----

_KILLED = 9


def _killed_at(ws: Workspace, write: int, operation: Callable[[], object], *, torn: bool) -> int:
    """Run ``operation`` in a forked child that dies (os._exit) at its ``write``-th state write.

    The writes are the journal, task file and index (``atomic_write``) and the audit trail
    (``append_text``); with ``torn`` the dying write leaves half its text behind, as a crash
    inside a write would. Returns the child's exit code: 0 means the operation had fewer writes.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        calls = itertools.count()

        def dying(real: Callable[[Path, str], None], tear: Callable[[Path, str], None]) -> Any:
            def replacement(path: Path, text: str) -> None:
                if next(calls) == write:
                    if torn:
                        tear(path, text[: len(text) // 2])
                    os._exit(_KILLED)
                real(path, text)

            return replacement

        # An atomic write dies leaving its temp file half written; an append, half a line.
        def torn_temp(path: Path, text: str) -> None:
            (path.parent / f".{path.name}.crash.tmp").write_text(text)

        store_module.atomic_write = dying(store_module.atomic_write, torn_temp)
        audit.append_text = dying(audit.append_text, audit.append_text)
        try:
            operation()
        except BaseException:
            os._exit(1)
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _assert_consistent(ws: Workspace) -> None:
    """Unique, contiguous seqs; one well-formed audit line per event, in order; state check clean."""
    all_tasks = list(Store(ws).all_tasks())
    seqs = sorted(e.seq for t in all_tasks for e in t.events)
    assert seqs == list(range(1, len(seqs) + 1))
    for task in all_tasks:
        lines = (ws.audit_dir / f"{task.id}.md").read_text().splitlines(keepends=True)
        numbers = [int(m[1]) for line in lines if (m := audit._EVENT_LINE.match(line))]
        assert numbers == list(range(1, len(task.events) + 1)), task.id
        assert recorded_count(ws, task.id) == len(task.events)
    assert check_state(ws) == []
    assert Store(ws).read_index().seq == len(seqs)
    assert not (ws.state_dir / ".journal").exists()


_OPERATIONS: dict[str, Callable[[Workspace, str], object]] = {
    "create": lambda ws, tid: new_task(ws),
    "transition": lambda ws, tid: actions.transition(ws, tid, "start", actor="alice"),
    "note": lambda ws, tid: tasks.note(ws, tid, actor="alice", reason="a note", artifacts=["a.md"]),
    "lock": lambda ws, tid: actions.set_lock(ws, ["dev"], locked=True, actor="alice"),
}


@pytest.mark.parametrize("torn", [False, True], ids=["before-write", "torn-write"])
@pytest.mark.parametrize("name", list(_OPERATIONS))
def test_a_kill_at_every_write_point_leaves_contiguous_seqs_and_one_audit_line_per_event(
    ws: Workspace, name: str, torn: bool
) -> None:
    operation, other = _OPERATIONS[name], ready_task(ws, "data")
    kills = 0
    for write in itertools.count():
        tid = ready_task(ws)
        if _killed_at(ws, write, lambda tid=tid: operation(ws, tid), torn=torn) == 0:
            break
        kills += 1
        # The next write by anyone (here: a note on another task) recovers first, then writes.
        tasks.note(ws, other, actor="bob", reason=f"after kill {write}")
        _assert_consistent(ws)
        if name == "lock":
            actions.set_lock(ws, ["dev"], locked=False, actor="alice")
    assert kills >= (2 if name == "lock" else 4)  # journal, (task file,) index, (audit,) each killed
    _assert_consistent(ws)


def test_read_locks_reads_the_locks_and_freeze_without_the_tasks(ws: Workspace) -> None:
    ready_task(ws)
    actions.set_lock(ws, ["data"], locked=True, actor="alice", reason="migration")
    actions.freeze(ws, actor="alice", reason="drill")
    full, locks = Store(ws).read_index(), Store(ws).read_locks()
    assert (locks.frozen, locks.queues) == (full.frozen, full.queues) and locks.tasks == {}
    # A hand edit that moved the queues below the tasks is read whole: no lock is missed.
    text = ws.index_file.read_text()
    head, tasks_part = text.split("\ntasks:")
    queues_part = head[head.index("\nqueues:") :]
    ws.index_file.write_text(
        head.replace(queues_part, "") + "\ntasks:" + tasks_part + queues_part.lstrip("\n") + "\n"
    )
    assert Store(ws).read_locks().queues["data"].reason == "migration"
