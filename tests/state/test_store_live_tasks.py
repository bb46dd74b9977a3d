"""A transition's work does not grow with the number of live tasks, and hides no hand edit."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import ready_task

from orchestrator import _yaml
from orchestrator.governance import actions
from orchestrator.state import _index, queues, scan, tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import HAND_EDIT_ACTOR, EventKind
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace


def _later(path: Path) -> None:
    """Move the file's mtime a second on, as a person's edit a moment later would."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _hand_edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    _later(path)


def _yaml_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the YAML loader is given from now on."""
    seen: list[str] = []
    real = _yaml.load

    def load(text: str, **kwargs: Any) -> Any:
        seen.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(_yaml, "load", load)
    return seen


@pytest.mark.parametrize("live", [3, 30])
def test_a_transition_reads_only_its_task_and_its_queues_slot_holders(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, live: int
) -> None:
    ids = [ready_task(ws) for _ in range(live)]
    holders = ids[:2]
    for tid in holders:
        actions.transition(ws, tid, "start", actor="alice")
    touched: set[str] = set()
    real = Workspace.task_file
    monkeypatch.setattr(Workspace, "task_file", lambda self, tid: touched.add(tid) or real(self, tid))
    parsed = _yaml_texts(monkeypatch)
    actions.transition(ws, ids[-1], "start", actor="alice")
    assert touched <= {ids[-1], *holders}
    assert parsed == []  # the index and the task file this process last wrote: no YAML read
    assert Store(ws).read_index().tasks[ids[-1]].status is Status.RUNNING


def test_an_index_another_process_wrote_is_read_without_yaml_for_its_task_lines(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [ready_task(ws) for _ in range(5)]
    actions.transition(ws, ids[0], "start", actor="alice")
    expected = Store(ws).read_index()
    monkeypatch.setattr(_index, "_known", {})  # a fresh process: nothing remembered
    parsed = _yaml_texts(monkeypatch)
    assert Store(ws).read_index() == expected
    assert {r["queue"]: r["running"] for r in queues.status(ws)}["dev"] == [ids[0]]
    assert parsed and not any(re.search(r"(?m)^  TASK_", text) for text in parsed)  # the head only


def test_an_index_edited_to_the_same_size_and_mtime_is_still_seen(ws: Workspace) -> None:
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    assert Store(ws).read_index().tasks[tid].status is Status.RUNNING  # remembered by this process
    st = os.stat(ws.index_file)
    text = ws.index_file.read_text()
    ws.index_file.write_text(text.replace("{status: running, ", "{status: blocked, "))  # 7 letters each
    os.utime(ws.index_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(ws.index_file).st_size == st.st_size
    task = tasks.get(ws, tid)
    assert (task.status, task.events[-1].actor, task.events[-1].kind) == (
        Status.BLOCKED,
        HAND_EDIT_ACTOR,
        EventKind.HAND_EDIT,
    )


def test_a_task_file_edited_to_the_same_size_and_mtime_is_read_again(ws: Workspace) -> None:
    tid = ready_task(ws)
    path = ws.task_file(tid)
    st = os.stat(path)
    path.write_text(path.read_text().replace("title: Do a thing", "title: Do b thing"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert tasks.get(ws, tid).title == "Do b thing"


def test_a_slot_freed_by_a_hand_edit_of_a_holders_file_is_free_for_the_next_start(ws: Workspace) -> None:
    ids = [ready_task(ws) for _ in range(4)]
    for tid in ids[:3]:  # dev allows 3
        actions.transition(ws, tid, "start", actor="alice")
    _hand_edit(ws.task_file(ids[0]), "status: running", "status: reviewing")
    actions.transition(ws, ids[3], "start", actor="alice")
    index = Store(ws).read_index()
    assert index.tasks[ids[0]].status is Status.REVIEWING
    assert index.queues["dev"].running == sorted(ids[1:])


def test_a_hand_edit_of_the_moved_tasks_file_reaches_the_index(ws: Workspace) -> None:
    tid, other = ready_task(ws), ready_task(ws)
    _hand_edit(ws.task_file(tid), "priority: 3", "priority: 1")
    _hand_edit(ws.task_file(other), "priority: 3", "priority: 5")
    tasks.note(ws, tid, actor="alice", reason="a note")
    index = Store(ws).read_index()
    assert index.tasks[tid].priority == 1
    # Another live task's file is not looked at by this move; the list shows its file at once.
    assert index.tasks[other].priority == 3
    assert {r["id"]: r["priority"] for r in tasks.listing(ws)}[other] == 5


def test_scan_and_rebuild_still_take_in_every_hand_edited_task_file(ws: Workspace) -> None:
    tid = ready_task(ws)
    _hand_edit(ws.task_file(tid), "priority: 3", "priority: 2")
    assert [f.priority for f in scan.scan(ws).tasks] == [2]
    assert Store(ws).rebuild_index().tasks[tid].priority == 2
