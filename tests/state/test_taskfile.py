"""A task file read or written again without PyYAML: the same text, byte for byte, the same task."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.state import _taskfile
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, EventKind, TaskState

STAMP = "2026-01-01T00:00:00.000Z"


def _task(tid: str = "TASK_DEV_0001") -> TaskState:
    return TaskState(
        id=tid,
        title="a: title ünï",
        queue="dev",
        card=f"tasks/inbox/{tid}.md",
        status=Status.INBOX,
        created_at=STAMP,
        updated_at=STAMP,
    )


def _event(seq: int, **extra: object) -> Event:
    return Event(seq=seq, at=STAMP, actor="alice", from_=Status.INBOX, to=Status.READY, **extra)  # type: ignore[arg-type]


EVENTS = [
    _event(1, reason="TaskCard created"),
    _event(2, reason="line one\nline two: 'quoted' \"twice\" ünï " + "long " * 1000),
    _event(3, artifacts=["ops/reports/a.md", "b c.md"], session="SES-1", kind=EventKind.VIOLATION),
    _event(4, reason=None),
    _event(5, reason="- looks like a list"),
]


@pytest.mark.parametrize("n", range(len(EVENTS) + 1))
def test_render_writes_what_to_yaml_writes_and_reuses_each_unchanged_event(tmp_path: Path, n: int) -> None:
    task, path = _task(), tmp_path / "TASK_DEV_0001.yaml"
    task.events = [e.model_copy() for e in EVENTS[:n]]
    text, chunks = _taskfile.render(path, task)
    assert text == task.to_yaml()
    _taskfile.written(path, text, task, chunks)
    task.events.append(_event(n + 1, reason="one more"))
    again, more = _taskfile.render(path, task)
    assert again == task.to_yaml()
    assert all(new[1] is old[1] for new, old in zip(more, chunks, strict=False))  # not rendered again


def test_an_event_changed_since_it_was_rendered_is_rendered_again(tmp_path: Path) -> None:
    task, path = _task(), tmp_path / "TASK_DEV_0001.yaml"
    task.events = [_event(1, reason="before")]
    text, chunks = _taskfile.render(path, task)
    _taskfile.written(path, text, task, chunks)
    task.events[0].reason = "after"  # changed in place: the remembered copy is not
    assert "reason: after" in _taskfile.render(path, task)[0]


def test_the_same_text_is_read_from_memory_and_any_other_text_is_parsed(tmp_path: Path) -> None:
    task, path = _task(), tmp_path / "TASK_DEV_0001.yaml"
    task.events = [e.model_copy() for e in EVENTS]
    text, chunks = _taskfile.render(path, task)
    _taskfile.written(path, text, task, chunks)
    parsed: list[str] = []

    def parse() -> TaskState:
        parsed.append("yaml")
        return _task()

    first = _taskfile.read(path, text, parse)
    assert first == task and parsed == []
    first.events.clear()  # the caller's own copy
    assert _taskfile.read(path, text, parse) == task and parsed == []
    edited = text.replace("title: 'a: title", "title: 'b: title")  # a hand edit, the same length
    assert _taskfile.read(path, edited, parse) == _task() and parsed == ["yaml"]


def test_only_the_most_recently_used_files_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_taskfile, "KEEP", 2)
    texts = {}
    for name in ("a", "b", "c"):
        path, task = tmp_path / f"{name}.yaml", _task()
        texts[path] = _taskfile.render(path, task)[0]
        _taskfile.written(path, texts[path], task, [])
    parsed: list[Path] = []
    for path, text in reversed(texts.items()):  # c and b are kept, a was dropped
        _taskfile.read(path, text, lambda path=path: parsed.append(path) or _task())  # type: ignore[func-returns-value]
    assert parsed == [tmp_path / "a.yaml"]
