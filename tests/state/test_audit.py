"""The audit trail cannot be forged: actors are checked, user text is escaped, counting is strict."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.errors import PermissionDenied
from orchestrator.governance import actions
from orchestrator.state import audit, tasks
from orchestrator.state.audit import recorded_count
from orchestrator.state.lifecycle import Status
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace

from .test_tasks import new_task, ready_task

FORGED = "ceo\n- #99 · 2026-01-01T00:00:00.000Z · ready → done · by ceo (human) · merged"
ESCAPES = "ok\x1b[2J\x1b]0;pwned\x07 [bold]done[/bold]"


def trail(ws: Workspace, tid: str) -> str:
    return (ws.audit_dir / f"{tid}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        (FORGED, r"holds a control character, \\n \(U\+000A\)"),
        ("alice\x1b[2J", r"\\x1b \(U\+001B\)"),
        ("alice\x7f", r"U\+007F"),
        ("ali\u202ece", r"U\+202E"),  # a bidi override: reads other than it runs
        ("alice\u2028", r"U\+2028"),  # a line separator to str.splitlines
        ("", "is empty"),
        ("   ", "is empty"),
        ("a" * 101, "101 characters long"),
    ],
)
def test_a_forged_actor_is_refused_and_nothing_is_written(ws: Workspace, actor: str, message: str) -> None:
    tid = ready_task(ws)
    before = trail(ws, tid)
    for attempt in (
        lambda: actions.transition(ws, tid, "start", actor=actor),
        lambda: tasks.note(ws, tid, actor=actor, reason="x"),
        lambda: actions.advance(ws, tid, Status.RUNNING, actor=actor, reason="x"),
    ):
        with pytest.raises(PermissionDenied, match=message) as caught:
            attempt()
        assert "--actor" in (caught.value.fix or "") and "AIOS_ACTOR" in (caught.value.fix or "")
    assert trail(ws, tid) == before and len(tasks.get(ws, tid).events) == 2
    with pytest.raises(PermissionDenied, match=message):
        new_task_as(ws, actor)
    assert sorted(p.name for p in ws.inbox_dir.iterdir()) == [f"{tid}.md"]  # no card written either


def new_task_as(ws: Workspace, actor: str) -> None:
    from orchestrator.state.taskcard import Criterion, TaskCard

    card = TaskCard(
        id="TASK_DEV_0000", title="t", queue="dev", acceptance_criteria=[Criterion(id="AC1", text="x")]
    )
    tasks.create(ws, card, actor=actor)


def test_the_store_refuses_a_forged_actor_whoever_calls_it(ws: Workspace) -> None:
    """Defense in depth: an interface that skips the service checks still cannot record one."""
    tid = new_task(ws)
    with pytest.raises(PermissionDenied), Store(ws).transaction() as txn:
        task = txn.task(tid)
        txn.record(task, actor=FORGED, to=task.status, reason="x")
    assert len(tasks.get(ws, tid).events) == 1


def test_user_text_cannot_start_a_line_or_carry_an_escape_sequence(ws: Workspace) -> None:
    tid = new_task(ws, title="Title\n- #50 · forged\x1b[31m")
    tasks.note(ws, tid, actor="alice", reason=ESCAPES + "\n- #98 · x", artifacts=["a.md\n- #97 · y"])
    text = trail(ws, tid)
    assert "\x1b" not in text and "\x07" not in text
    assert [line[:5] for line in text.splitlines() if line.startswith("- #")] == ["- #1 ", "- #2 "]
    assert "Title\\n- #50 · forged\\x1b[31m" in text  # shown, escaped, on the title's own line
    assert "· ok\\x1b[2J\\x1b]0;pwned\\x07 [bold]done[/bold] - #98 · x\n" in text  # newline: a space
    assert "  - artifact: `a.md\\n- #97 · y`\n" in text
    assert recorded_count(ws, tid) == 2


def test_recovery_counts_only_well_formed_lines_numbered_in_sequence(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = ready_task(ws)
    path = ws.audit_dir / f"{tid}.md"
    # A forged line, a repeated number and a torn last line (a crash inside the append).
    with path.open("a", encoding="utf-8") as fh:
        fh.write("- #99 · 2026-01-01T00:00:00.000Z · ready → done · by ceo (human) · merged\n")
        fh.write("- #2 · 2026-01-01T00:00:00.000Z · inbox → ready · by alice (human) · approve\n")
        fh.write("- #3 · 2026-01-01T00:00:00.000Z · ready → runn")
    assert recorded_count(ws, tid) == 2
    # A commit killed before its audit line: the next write appends exactly the missing line.
    real = audit.append
    monkeypatch.setattr(audit, "append", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        actions.transition(ws, tid, "start", actor="alice")
    monkeypatch.setattr(audit, "append", real)
    tasks.note(ws, ready_task(ws), actor="alice", reason="the next write recovers")
    assert recorded_count(ws, tid) == len(tasks.get(ws, tid).events) == 3
    last = path.read_text().splitlines(keepends=True)[-2:]
    assert last[0] == "- #3 · 2026-01-01T00:00:00.000Z · ready → runn\n"  # the torn line is ended
    assert audit._EVENT_LINE.match(last[1]) and "- #3 " in last[1] and "ready → running" in last[1]


def test_recorded_count_of_a_long_trail_is_fast(ws: Workspace) -> None:
    import time

    tid = new_task(ws)
    event = tasks.get(ws, tid).events[0]
    path = ws.audit_dir / f"{tid}.md"
    path.write_text("".join(audit._line(n, event) for n in range(1, 100_001)), encoding="utf-8")
    start = time.perf_counter()
    assert recorded_count(ws, tid) == 100_000
    assert time.perf_counter() - start < 2.0  # about 0.1 s; recovery reads it once


def test_the_governance_log_is_one_escaped_line_per_action(ws: Workspace) -> None:
    audit.append_governance(ws, "alice (human) · member add bob: lead (L2)")
    audit.append_governance(ws, FORGED + " \x1b[2J")
    text = ws.governance_log.read_text()
    assert text.startswith("# Governance log\n\n") and text.count("# Governance log") == 1
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 2  # the forged line break stayed inside its own line
    assert lines[0].endswith(" · alice (human) · member add bob: lead (L2)")
    assert "\x1b" not in text and "\\x1b[2J" in lines[1]


def test_an_events_kind_is_shown_on_its_line_and_the_line_still_counts(ws: Workspace) -> None:
    tid = ready_task(ws)
    actions.stop(ws, tid, actor="alice", reason="runaway")
    last = trail(ws, tid).splitlines()[-1]
    assert last.endswith(" · ready → blocked [emergency_stop] · by alice (human) · runaway")
    assert audit._EVENT_LINE.match(last + "\n")
    assert recorded_count(ws, tid) == len(tasks.get(ws, tid).events) == 3


def test_a_task_file_without_kinds_loads_and_stays_as_it_was(ws: Workspace) -> None:
    tid = ready_task(ws)
    text = ws.task_file(tid).read_text()
    assert "kind" not in text  # ordinary events carry no kind key
    task = Store(ws).read_task(tid)
    assert all(e.kind is None for e in task.events) and task.to_yaml() == text


def test_the_governance_log_is_append_only_and_one_line_an_entry(ws: Workspace) -> None:
    audit.append_governance(ws, "first")
    audit.append_governance(ws, "second\n- 2026-01-01 · forged entry")
    lines = ws.governance_log.read_text().splitlines()
    assert lines[0] == "# Governance log"
    entries = [line for line in lines if line.startswith("- ")]
    assert len(entries) == 2
    assert entries[0].endswith(" · first")
    assert entries[1].endswith(" · second - 2026-01-01 · forged entry")


def _crash_inside_the_append(monkeypatch: pytest.MonkeyPatch, keep: Callable[[str], int]) -> None:
    """The next trail append writes only ``keep(text)`` characters of its text, then the process dies."""
    real = audit.append_text

    def torn(path, text):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(audit, "append_text", real)
        real(path, text[: keep(text)])
        raise KeyboardInterrupt

    monkeypatch.setattr(audit, "append_text", torn)


def _assert_whole(ws: Workspace, tid: str) -> None:
    from orchestrator.state import audit_chain

    task = tasks.get(ws, tid)
    report = audit_chain.verify(ws, task)
    assert report.ok and report.legacy == 0, report
    assert recorded_count(ws, tid) == len(task.events)


@pytest.mark.parametrize("torn_at", ["reason", "after_human", "line_end"])
def test_a_line_torn_by_a_crash_is_cut_off_and_written_whole_on_recovery(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, torn_at: str
) -> None:
    tid = ready_task(ws)
    path = ws.audit_dir / f"{tid}.md"
    before = path.read_bytes()
    cut = {
        "reason": lambda t: (
            len(t) - 4
        ),  # inside the reason: ended by a newline it would match the line pattern
        "after_human": lambda t: t.index("(human)") + len("(human)"),
        "line_end": lambda t: len(t) - 1,  # all but the newline
    }[torn_at]
    _crash_inside_the_append(monkeypatch, cut)
    with pytest.raises(KeyboardInterrupt):
        tasks.note(ws, tid, actor="alice", reason="a long enough reason")
    assert path.read_bytes() != before and not path.read_bytes().endswith(b"\n")
    tasks.listing(ws)  # reads only: the torn line stays until the next write
    tasks.note(ws, tid, actor="bob", reason="the next write recovers")
    _assert_whole(ws, tid)
    text = path.read_text()
    assert text.startswith(before.decode()) and text.count("- #3 ") == 1 and text.count("- #4 ") == 1


def test_an_event_line_whose_artifact_lines_were_torn_off_is_written_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = ready_task(ws)
    # The event line is whole (and counted by `recorded_count`); its second artifact line is missing.
    _crash_inside_the_append(monkeypatch, lambda t: t.index("  - artifact: `b.md`"))
    with pytest.raises(KeyboardInterrupt):
        tasks.note(ws, tid, actor="alice", reason="two files", artifacts=["a.md", "b.md"])
    assert recorded_count(ws, tid) == 3  # the whole line counts, though its block is torn
    tasks.note(ws, ready_task(ws), actor="alice", reason="another task's write recovers this one")
    _assert_whole(ws, tid)
    text = (ws.audit_dir / f"{tid}.md").read_text()
    assert text.count("- #3 ") == 1 and text.endswith("  - artifact: `a.md`\n  - artifact: `b.md`\n")


def test_a_torn_line_left_after_the_journal_is_gone_is_cut_off_by_the_next_append(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = ready_task(ws)
    _crash_inside_the_append(monkeypatch, lambda t: len(t) // 2)
    with pytest.raises(KeyboardInterrupt):
        tasks.note(ws, tid, actor="alice", reason="torn")
    Store(ws).rebuild()  # a repair drops the journal: recovery no longer knows the commit
    assert not ws.journal_file.exists()
    tasks.note(ws, tid, actor="alice", reason="next")
    _assert_whole(ws, tid)


def test_unterminated_text_aios_did_not_write_is_kept_not_cut(ws: Workspace) -> None:
    tid = ready_task(ws)
    path = ws.audit_dir / f"{tid}.md"
    with path.open("a", encoding="utf-8") as fh:
        fh.write("a note typed by hand")
    tasks.note(ws, tid, actor="alice", reason="next")
    text = path.read_text()
    assert "\na note typed by hand\n- #3 " in text  # kept, ended by a newline, as before
