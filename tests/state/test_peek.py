"""``state.peek``: the light reads answer exactly what the full path does, or not at all."""

from __future__ import annotations

import pytest
from helpers import new_task

from orchestrator.errors import StateError
from orchestrator.governance import actions
from orchestrator.state import _cache, peek, tasks
from orchestrator.state.workspace import Workspace


@pytest.fixture(autouse=True)
def no_racy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written a moment ago may be cached (the racy rule waits a second, for real clocks)."""
    monkeypatch.setattr(_cache, "RACY_NS", -(10**9))


def test_a_task_once_read_is_peeked_as_the_model_dumps_it(ws: Workspace) -> None:
    tid = new_task(ws)
    actions.transition(ws, tid, "approve", actor="alice", reason="ok [b]")
    assert peek.task(ws, tid) is None  # not in the cache yet: the full path reads it
    task = tasks.get(ws, tid, keep=True)
    assert peek.task(ws, tid) == task.model_dump(mode="json", by_alias=True)


def test_a_hand_edit_of_the_task_file_is_seen_at_once(ws: Workspace) -> None:
    tid = new_task(ws)
    tasks.get(ws, tid, keep=True)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("title: ", "title: Edited "))
    assert peek.task(ws, tid) is None
    assert tasks.get(ws, tid, keep=True).title.startswith("Edited ")
    assert peek.task(ws, tid)["title"].startswith("Edited ")  # type: ignore[index]


def test_nothing_is_peeked_while_the_index_holds_a_hand_edit(ws: Workspace) -> None:
    tid = new_task(ws)
    tasks.get(ws, tid, keep=True)
    assert peek.live(ws) is not None
    ws.index_file.write_text(ws.index_file.read_text().replace("status: inbox", "status: blocked", 1))
    assert peek.task(ws, tid) is None and peek.live(ws) is None
    tasks.get(ws, tid)  # a full read records the edit (the task is stopped), as before
    assert peek.live(ws) == tasks.listing(ws)


def test_the_live_list_is_the_listing_through_a_task_s_life(ws: Workspace) -> None:
    first, second, third = new_task(ws), new_task(ws), new_task(ws, "data")
    assert peek.live(ws) == tasks.listing(ws)
    assert peek.live(ws) == tasks.listing(ws)  # the second read comes from the scan cache
    for action in ("approve", "start", "finish"):
        actions.transition(ws, second, action, actor="alice")
        assert peek.live(ws) == tasks.listing(ws)
    actions.transition(ws, second, "merge", actor="alice")  # done: no longer listed
    rows = peek.live(ws)
    assert rows == tasks.listing(ws) and [r["id"] for r in rows or []] == [third, first]  # by id


def test_a_task_file_changed_since_it_was_indexed_is_read_by_the_full_path(ws: Workspace) -> None:
    tid = new_task(ws)
    peek.live(ws)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("priority: 3", "priority: 1"))
    assert peek.live(ws) is None
    assert tasks.listing(ws)[0]["priority"] == 1


def test_every_task_is_listed_as_the_full_scan_lists_it(ws: Workspace) -> None:
    first, second = new_task(ws), new_task(ws, "data")
    for action in ("approve", "start", "finish", "merge"):
        actions.transition(ws, first, action, actor="alice")
    assert peek.everything(ws) is None  # not scanned yet: the full path reads the files
    full = tasks.listing(ws, include_done=True)
    assert peek.everything(ws) == full and [r["id"] for r in full] == [second, first]
    assert full[1]["status"] == "done"


def test_a_task_file_new_changed_or_broken_since_the_scan_is_read_by_the_full_path(ws: Workspace) -> None:
    tid = new_task(ws)
    tasks.listing(ws, include_done=True)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("priority: 3", "priority: 1"))  # by hand, in place
    assert peek.everything(ws) is None
    assert tasks.listing(ws, include_done=True)[0]["priority"] == 1
    assert peek.everything(ws) == tasks.listing(ws, include_done=True)
    other = new_task(ws)
    assert peek.everything(ws) is None  # a new file
    tasks.listing(ws, include_done=True)
    ws.task_file(other).write_text("id: [unclosed\n")
    assert peek.everything(ws) is None  # not a task: the full path says what is wrong
    with pytest.raises(StateError):
        tasks.listing(ws, include_done=True)
    assert peek.everything(ws) is None  # the error is cached, never listed


def test_every_task_is_not_peeked_while_the_index_holds_a_hand_edit(ws: Workspace) -> None:
    new_task(ws)
    tasks.listing(ws, include_done=True)
    assert peek.everything(ws) is not None
    ws.index_file.write_text(ws.index_file.read_text().replace("status: inbox", "status: blocked", 1))
    assert peek.everything(ws) is None


@pytest.mark.parametrize("variable", ["AIOS_STATE_URL", "AIOS_CHECKPOINT_URL", "AIOS_LANGGRAPH_URL"])
def test_a_configured_backend_turns_the_light_reads_off(
    ws: Workspace, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = new_task(ws)
    tasks.get(ws, tid, keep=True)
    assert peek.embedded(ws) and peek.task(ws, tid) is not None
    monkeypatch.setenv(variable, "postgresql://db.example/aios")
    assert not peek.embedded(ws) and peek.task(ws, tid) is None and peek.live(ws) is None
    assert peek.everything(ws) is None
    monkeypatch.delenv(variable)
    ws.project_file.write_text(ws.project_file.read_text() + "backends:\n  state: postgresql://db/aios\n")
    assert not peek.embedded(ws)


def test_only_a_due_at_line_can_make_an_escalation_due(ws: Workspace) -> None:
    assert not peek.may_be_due(ws)
    ws.escalations_file.write_text("escalations: []\n")
    assert not peek.may_be_due(ws)
    ws.escalations_file.write_text("escalations:\n- due_at: '2026-01-01T00:00:00Z'\n")
    assert peek.may_be_due(ws)
