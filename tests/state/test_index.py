"""The index's text: rendered line by line, read back without YAML, remembered by its text."""

from __future__ import annotations

import pytest
import yaml

from orchestrator.state import _index
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Freeze, Index, IndexEntry, QueueState

TITLES = ["plain", "yes: no [x] #1 ünï", "null", 'a "quoted" \\ back\\slash', "tab\there", "- dash", "1e3"]


def _index_of(n: int = 3) -> Index:
    return Index(
        seq=40,
        next_number={"DEV": n + 1, "DATA": 2},
        frozen=Freeze(by="alice", at="2026-01-01T00:00:00.000Z", record="ops/freeze/F.md", locked=["dev"]),
        queues={"dev": QueueState(lock="SYSTEM_LOCK", locked_by="alice"), "data": QueueState()},
        tasks={
            f"TASK_DEV_{i:04d}": IndexEntry(
                status=list(Status)[i % 7],
                queue="dev",
                priority=i % 5 + 1,
                title=TITLES[i % 7],
                mtime=10**18 + i,
            )
            for i in range(1, n + 1)
        },
    )


@pytest.mark.parametrize("n", [0, 1, 7, 50])
def test_aios_own_text_reads_back_without_yaml_as_yaml_reads_it(n: int) -> None:
    index = _index_of(n)
    text = _index.render_index(index)
    parsed = _index.parse_fast(text)
    assert parsed is not None
    fast, lines = parsed
    assert fast == index == Index.model_validate(yaml.safe_load(text))
    # Each entry's line is the very line of the text, so rendering again reuses all of them.
    assert _index.render(fast, lines) == (text, lines)


def test_an_unchanged_entry_is_not_rendered_again() -> None:
    index = _index_of(3)
    _, lines = _index.render(index, {})
    planted = {tid: (entry, f"  {tid}: planted") for tid, (entry, _) in lines.items()}
    index.tasks["TASK_DEV_0002"] = index.tasks["TASK_DEV_0002"].model_copy(update={"title": "moved"})
    text, out = _index.render(index, planted)
    assert "  TASK_DEV_0001: planted" in text and "  TASK_DEV_0003: planted" in text
    assert "  TASK_DEV_0002: {status: running, queue: dev, priority: 3, title: moved, " in text
    assert out["TASK_DEV_0002"][0] is index.tasks["TASK_DEV_0002"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("{status: ready, ", "{status: blocked, event: emergency_stop, "),  # a hand stop
        lambda t: t.replace("priority: 3, ", "priority: 3,  "),
        lambda t: t.replace("\nqueues:", "\nqueues_moved:", 1) + "queues: {}\n",
        lambda t: t.replace("{status: ready, ", "{status: ready , "),
    ],
)
def test_text_not_in_aios_form_is_left_to_the_yaml_loader(edit) -> None:  # type: ignore[no-untyped-def]
    text = edit(_index.render_index(_index_of(7)))
    assert _index.parse_fast(text) is None


def test_a_remembered_text_answers_only_for_that_very_text() -> None:
    index = _index_of(3)
    text = _index.render_index(index)
    _index.remember("/ws/state/tasks.yaml", text, index, edited=False)
    known = _index.recall("/ws/state/tasks.yaml", text)
    assert known is not None and known.index == index and known.digest == _index.digest(text)
    same_length = text.replace("status: ready", "status: blokd")  # a hand edit, the size unchanged
    assert len(same_length) == len(text)
    assert _index.recall("/ws/state/tasks.yaml", same_length) is None
    assert _index.recall("/other/state/tasks.yaml", text) is None


def test_a_copy_changes_without_touching_what_is_remembered() -> None:
    index = _index_of(3)
    text = _index.render_index(index)
    _index.remember("/ws2/state/tasks.yaml", text, index, edited=False)
    mine = _index.copy(_index.recall("/ws2/state/tasks.yaml", text).index)  # type: ignore[union-attr]
    mine.queues["dev"].lock = None
    mine.frozen.locked.append("data")  # type: ignore[union-attr]
    mine.tasks.pop("TASK_DEV_0001")
    mine.next_number["DEV"] = 99
    mine.seq = 1
    again = _index.recall("/ws2/state/tasks.yaml", text)
    assert again is not None and again.index == index
    with pytest.raises(ValueError, match="frozen"):
        index.tasks["TASK_DEV_0002"].status = Status.DONE  # entries are shared, so never changed in place
