"""Full scans through the derived cache: unchanged files are not parsed, any change is seen at once."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest
from helpers import new_task, ready_task

from orchestrator.errors import StateError
from orchestrator.governance import actions
from orchestrator.state import _cache, scan, tasks
from orchestrator.state.check import check_state
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace


@pytest.fixture(autouse=True)
def cache_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cache files written a moment ago, as a scan a second later would (the racy window is 1 s)."""
    monkeypatch.setattr(_cache, "RACY_NS", 0)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The task files parsed from YAML, in order."""
    seen: list[str] = []
    real = scan.parse_task

    def counting(ws: Workspace, text: str, path: Path):  # type: ignore[no-untyped-def]
        seen.append(path.stem)
        return real(ws, text, path)

    monkeypatch.setattr(scan, "parse_task", counting)
    return seen


def summary(ws: Workspace) -> list[tuple[str, str, str, tuple[int, ...]]]:
    found = scan.scan(ws)
    return [(t.id, t.status.value, t.title, t.seqs) for t in found.tasks]


def rows(ws: Workspace, kind: str) -> dict[str, str]:
    with sqlite3.connect(ws.scan_cache) as db:
        return dict(db.execute("SELECT name, key FROM memo WHERE kind = ?", (kind,)).fetchall())


def test_an_unchanged_scan_parses_no_task_file(ws: Workspace, parses: list[str]) -> None:
    ids = [new_task(ws, title=f"task {i}") for i in range(3)]
    first = summary(ws)
    assert sorted(parses) == ids
    assert [t.id for t in Store(ws).all_tasks()] == ids  # whole tasks are kept only once asked for
    parses.clear()
    assert summary(ws) == first
    assert [t.id for t in Store(ws).all_tasks()] == ids
    assert check_state(ws) == []
    assert parses == []


def test_a_task_from_the_cache_equals_the_task_file(ws: Workspace) -> None:
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    list(scan.tasks(ws))  # fills the cache
    assert list(scan.tasks(ws)) == [Store(ws).read_task(tid)]


def test_a_hand_edit_is_seen_at_once_even_with_the_size_and_mtime_restored(
    ws: Workspace, parses: list[str]
) -> None:
    tid = new_task(ws, title="Fix login")
    assert summary(ws)[0][2] == "Fix login"
    path = ws.task_file(tid)
    before = path.stat()
    with path.open("r+", encoding="utf-8") as fh:  # in place: same inode, same size
        text = fh.read()
        fh.seek(0)
        fh.write(text.replace("title: Fix login", "title: Fix logon"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    same = ("st_ino", "st_size", "st_mtime_ns")
    assert [getattr(after, k) for k in same] == [getattr(before, k) for k in same]
    parses.clear()
    assert summary(ws)[0][2] == "Fix logon"
    assert tasks.listing(ws, include_done=True)[0]["title"] == "Fix logon"
    assert parses == [tid]  # read once, then cached again


def test_a_hand_edit_that_breaks_a_file_is_reported_and_its_repair_seen(ws: Workspace) -> None:
    tid = new_task(ws)
    summary(ws)
    path = ws.task_file(tid)
    good = path.read_text()
    path.write_text(good.replace("status: inbox", "status: [inbox"))
    with pytest.raises(StateError, match="not valid YAML"):
        tasks.listing(ws, include_done=True)
    assert [p.file for p in check_state(ws)] == [f"state/tasks/{tid}.yaml"]
    path.write_text(good)
    assert tasks.listing(ws, include_done=True)[0]["id"] == tid and check_state(ws) == []


def test_a_deleted_task_file_leaves_the_scan_and_the_cache(ws: Workspace) -> None:
    keep, gone = new_task(ws), new_task(ws)
    summary(ws)
    assert set(rows(ws, "task-facts")) == {f"{keep}.yaml", f"{gone}.yaml"}
    ws.task_file(gone).unlink()
    assert [row[0] for row in summary(ws)] == [keep]
    assert set(rows(ws, "task-facts")) == {f"{keep}.yaml"}


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"this is not a database\n" * 100),
        lambda path: path.write_bytes(path.read_bytes()[:500]),
        lambda path: path.unlink(),
    ],
    ids=["garbage", "truncated", "missing"],
)
def test_a_corrupt_or_missing_cache_is_rebuilt_silently(ws: Workspace, damage, parses: list[str]) -> None:  # type: ignore[no-untyped-def]
    ids = [new_task(ws), new_task(ws)]
    expected = summary(ws)
    for suffix in ("-wal", "-shm"):
        Path(f"{ws.scan_cache}{suffix}").unlink(missing_ok=True)
    damage(ws.scan_cache)
    parses.clear()
    assert summary(ws) == expected and check_state(ws) == []
    assert sorted(set(parses)) == ids  # read from the files again
    assert set(rows(ws, "task-facts")) == {f"{tid}.yaml" for tid in ids}  # and cached again
    parses.clear()
    assert summary(ws) == expected and parses == []


def test_a_damaged_row_is_read_from_the_file(ws: Workspace) -> None:
    tid = new_task(ws, title="Real title")
    summary(ws)
    with sqlite3.connect(ws.scan_cache) as db:
        db.execute("UPDATE memo SET value = '{\"id\": 3}' WHERE kind = 'task-facts'")
        db.execute("UPDATE memo SET value = '\"not a task\"' WHERE kind = 'task'")
    assert summary(ws)[0][2] == "Real title"
    assert [t.title for t in scan.tasks(ws)] == ["Real title"]
    assert Store(ws).read_task(tid).title == "Real title"


def test_an_unusable_cache_location_only_slows_the_scan(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tid = new_task(ws)
    (tmp_path / "blocked").write_text("a file where the cache folder belongs")
    monkeypatch.setenv("AIOS_CACHE_DIR", str(tmp_path / "blocked" / "aios"))
    assert [row[0] for row in summary(ws)] == [tid] and check_state(ws) == []


def test_a_scan_changes_no_file_of_the_workspace(ws: Workspace) -> None:
    new_task(ws)
    before = {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file() and ".git" not in p.parts}
    summary(ws)
    assert check_state(ws) == [] and ws.scan_cache.exists()
    assert {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file() and ".git" not in p.parts} == before


def test_a_file_changed_within_the_racy_window_is_not_cached(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cache, "RACY_NS", 60 * 10**9)  # everything written in the last minute
    new_task(ws)
    summary(ws)
    assert rows(ws, "task-facts") == {}


def test_state_check_from_the_cache_still_sees_an_altered_trail(ws: Workspace) -> None:
    tid = ready_task(ws)
    assert check_state(ws) == []
    trail = ws.audit_file(tid)
    trail.write_text(trail.read_text().replace("by alice (human)", "by mallory (human)", 1))
    problems = [p.render() for p in check_state(ws)]
    assert len(problems) == 1 and "line #1 is altered" in problems[0]
    assert [p.render() for p in check_state(ws)] == problems  # the same verdict, now from the cache


def test_state_check_from_the_cache_reports_what_a_fresh_check_does(ws: Workspace) -> None:
    tid = ready_task(ws)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("status: ready", "status: done"))  # skips the lifecycle
    fresh = [p.render() for p in check_state(ws)]
    assert any("status is done" in p for p in fresh)
    assert [p.render() for p in check_state(ws)] == fresh
    ws.scan_cache.unlink()
    assert [p.render() for p in check_state(ws)] == fresh


def test_rebuild_from_the_cache_writes_the_same_index(ws: Workspace) -> None:
    live, done = ready_task(ws), new_task(ws)
    for action in ("approve", "start", "finish", "merge"):
        actions.transition(ws, done, action, actor="alice")
    first = Store(ws).rebuild_index()
    assert set(first.tasks) == {live}
    text = ws.index_file.read_text()
    Store(ws).rebuild_index()
    assert ws.index_file.read_text() == text


def _scan_repeatedly(root: str, rounds: int, results: multiprocessing.Queue) -> None:
    ws, seen = Workspace(Path(root)), 0
    for _ in range(rounds):
        seen += len(scan.scan(ws, trails=True).tasks)
    results.put(seen)


def _transition_repeatedly(root: str, ids: list[str], results: multiprocessing.Queue) -> None:
    ws = Workspace(Path(root))
    for tid in ids:
        for action in ("start", "finish", "reject", "finish"):
            actions.transition(ws, tid, action, actor="alice")
    results.put(len(ids))


def test_two_scanners_and_a_writer_leave_a_cache_that_matches_the_files(ws: Workspace) -> None:
    ids = [ready_task(ws) for _ in range(6)]
    project = ws.project_file.read_text().replace("max_concurrent: 3", "max_concurrent: 10")
    ws.project_file.write_text(project)
    results: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_scan_repeatedly, args=(str(ws.root), 15, results)),
        multiprocessing.Process(target=_scan_repeatedly, args=(str(ws.root), 15, results)),
        multiprocessing.Process(target=_transition_repeatedly, args=(str(ws.root), ids, results)),
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    assert sorted(results.get() for _ in procs) == [len(ids), 15 * 6, 15 * 6]
    with sqlite3.connect(ws.scan_cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    cached = [(t.id, t.status, t.seqs) for t in scan.scan(ws).tasks]
    truth = [Store(ws).read_task(tid) for tid in ids]
    assert cached == [(t.id, t.status, tuple(e.seq for e in t.events)) for t in truth]
    assert check_state(ws) == []


def test_rows_kept_by_other_code_are_dropped(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    tid = new_task(ws)
    summary(ws)
    parses.clear()
    summary(ws)
    assert parses == []
    versions = scan._versions()
    monkeypatch.setattr(scan, "_versions", lambda: {kind: v + "-edited" for kind, v in versions.items()})
    summary(ws)
    assert parses == [tid]  # the code deriving the facts changed: read from the file again
