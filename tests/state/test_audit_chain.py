"""The audit trail is tamper-evident: each line's chain link binds the line before, its event, its text."""

from __future__ import annotations

import re
import time

from helpers import new_task, ready_task

from orchestrator.governance import actions
from orchestrator.state import audit, audit_chain, tasks
from orchestrator.state.check import check_report, check_state
from orchestrator.state.records import Event
from orchestrator.state.workspace import Workspace

LINK = re.compile(r" \[[0-9a-f]{16}\]")


def trail(ws: Workspace, tid: str) -> str:
    return ws.audit_file(tid).read_text(encoding="utf-8")


def edit_trail(ws: Workspace, tid: str, old: str, new: str) -> None:
    text = trail(ws, tid)
    assert old in text
    ws.audit_file(tid).write_text(text.replace(old, new, 1), encoding="utf-8")


def report(ws: Workspace, tid: str) -> audit_chain.TrailReport:
    return audit_chain.verify(ws, tasks.get(ws, tid))


def test_every_line_carries_a_link_and_a_clean_trail_verifies(ws: Workspace) -> None:
    tid = ready_task(ws)
    tasks.note(ws, tid, actor="alice", reason="a note", artifacts=["a.md"])
    lines = [ln for ln in trail(ws, tid).splitlines() if ln.startswith("- #")]
    assert [re.match(r"- #(\d+) \[[0-9a-f]{16}\] · ", ln)[1] for ln in lines] == ["1", "2", "3"]  # type: ignore[index]
    assert all(audit._EVENT_LINE.match(ln + "\n") for ln in lines)
    assert report(ws, tid) == audit_chain.TrailReport(tid)
    assert check_state(ws) == []


def test_an_edited_audit_line_is_detected(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    edit_trail(ws, tid, "by alice (human) · approve", "by carol (human) · approve")
    found = report(ws, tid)
    assert [n for n, _ in found.altered] == [2] and not found.unaudited and not found.numbering
    shown = [p.render() for p in check_state(ws)]
    assert len(shown) == 1 and shown[0].startswith(f"ops/audit/{tid}.md: #2: line #2 is altered")
    result = cli("state", "check")
    assert result.exit_code == 1 and "line #2 is altered" in result.stderr


def test_a_line_rewritten_with_a_recomputed_link_breaks_the_next_link(ws: Workspace) -> None:
    tid = ready_task(ws)
    task = tasks.get(ws, tid)
    forged = task.events[1].model_copy(update={"actor": "carol"})
    line, _ = audit.chained_line(2, forged, LINK.search(trail(ws, tid).splitlines()[-2])[0][2:-1])  # type: ignore[index]
    lines = trail(ws, tid).splitlines(keepends=True)
    number = next(i for i, ln in enumerate(lines) if ln.startswith("- #2 "))
    lines[number] = line
    ws.audit_file(tid).write_text("".join(lines))
    assert [n for n, _ in report(ws, tid).altered] == [2]  # its event in the task file says alice


def test_an_edited_task_file_event_is_detected(ws: Workspace) -> None:
    tid = ready_task(ws)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("reason: approve", "reason: approved by the board"))
    assert [n for n, _ in report(ws, tid).altered] == [2]


def test_a_deleted_line_is_unaudited_and_a_repeated_line_misnumbered(ws: Workspace) -> None:
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    lines = trail(ws, tid).splitlines(keepends=True)
    second = next(ln for ln in lines if ln.startswith("- #2 "))
    ws.audit_file(tid).write_text("".join(ln for ln in lines if ln is not second))
    found = report(ws, tid)
    assert found.unaudited == [2] and [n for n, _ in found.altered] == [3]  # its link followed #2's
    ws.audit_file(tid).write_text("".join(lines) + second)
    assert [n for n, _ in report(ws, tid).numbering] == [2]


def test_events_with_no_line_are_unaudited(ws: Workspace) -> None:
    tid = ready_task(ws)
    lines = trail(ws, tid).splitlines(keepends=True)
    ws.audit_file(tid).write_text("".join(ln for ln in lines if not ln.startswith("- #2 ")))
    assert report(ws, tid).unaudited == [2]
    messages = [p.render() for p in check_state(ws)]
    assert messages == [
        f"ops/audit/{tid}.md: unaudited: event 2 of state/tasks/{tid}.yaml have no line on the trail\n"
        f"  fix: a state change made outside aios, or a trail cut short: `git log -p ops/audit/{tid}.md` "
        "shows who changed what; the trail is append-only: restore it from git; compare "
        f"state/tasks/{tid}.yaml with its git history"
    ]


def test_a_legacy_trail_is_unchained_not_tampered_and_new_lines_start_a_chain(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    ws.audit_file(tid).write_text(LINK.sub("", trail(ws, tid)))  # as aios wrote it before the chain
    assert report(ws, tid) == audit_chain.TrailReport(tid, legacy=2)
    assert check_report(ws).legacy_trails == {tid: 2} and check_state(ws) == []
    result = cli("state", "check")
    assert result.exit_code == 0 and "note: 1 audit trail(s) hold 2 line(s) written before" in result.stdout
    actions.transition(ws, tid, "start", actor="alice")
    tasks.note(ws, tid, actor="alice", reason="after the chain began")
    assert LINK.search(trail(ws, tid).splitlines()[-1])
    assert report(ws, tid) == audit_chain.TrailReport(tid, legacy=2)
    # Once a chain began, a line without its link is not legacy: its link was removed.
    lines = trail(ws, tid).splitlines(keepends=True)
    ws.audit_file(tid).write_text("".join(lines[:-1]) + LINK.sub("", lines[-1]))
    assert report(ws, tid).altered == [(4, "its chain link was removed")]


def test_verifying_a_long_trail_is_fast(ws: Workspace) -> None:
    tid = new_task(ws)
    task = tasks.get(ws, tid)
    event = task.events[0]
    task.events = [Event(**{**event.model_dump(by_alias=True), "seq": n}) for n in range(1, 10_001)]
    text, prev = [], tid
    for n, e in enumerate(task.events, 1):
        block, prev = audit.chained_line(n, e, prev)
        text.append(block)
    start = time.perf_counter()
    found = audit_chain.verify_lines(task, "".join(text).splitlines(keepends=True))
    assert found.ok and found.legacy == 0
    assert time.perf_counter() - start < 1.0  # about 0.1 s: health runs it over every task
