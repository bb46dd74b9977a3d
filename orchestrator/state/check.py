"""``aios state check`` and ``aios state rebuild``: validate every state file; rebuild the index."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import _gc
from orchestrator.errors import AiosError, StateError
from orchestrator.state import agents, audit_chain, queues, refile, refiled, scan, sessions
from orchestrator.state.history import history_problems as history_problems  # re-exported
from orchestrator.state.lifecycle import ACTIVE, Status
from orchestrator.state.records import Index, TaskState
from orchestrator.state.store import REBUILD_ACTOR, Rebuilt
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace


@dataclass
class StateReport:
    """What ``check_report`` found: problems (errors), and trails written before the hash chain."""

    problems: list[AiosError]
    legacy_trails: dict[str, int] = field(default_factory=dict)
    """Task id -> its trail's lines without a chain link: unchained (legacy), not tampering."""


def check_state(ws: Workspace) -> list[AiosError]:
    """Every problem in the workspace's state files (``check_report(ws).problems``)."""
    return check_report(ws).problems


@_gc.pausing
def check_report(ws: Workspace) -> StateReport:
    """Every problem in project.yaml, the index, agents/sessions files and each task file.

    Unchanged task files and trails are not read again (``state.scan``): at 50,000 tasks the
    check takes about a second.

    Beyond each file's own validity, the event sequence numbers across all tasks must be unique
    and run 1, 2, 3, ... without a gap, and the index's ``seq`` must not be behind them: a
    number used twice means two events whose order is lost. Each task's events must chain into
    lifecycle moves ending at its status: a status edited by hand (``running`` to ``done``,
    skipping the review and the merge) is reported. Each task's audit trail must match its events
    (``audit_chain``): an unaudited event, an altered or misnumbered line is a problem.
    """
    store = open_store(ws)
    problems: list[AiosError] = []
    _collect(problems, lambda: ws.project)
    index = _collect(problems, store.read_index)
    roster = _collect(problems, lambda: agents.load(ws))
    held = _collect(problems, lambda: sessions.load(ws))
    if roster is not None and held is not None:
        problems += _session_problems(ws, roster, held)
    interrupted = {r.old: r for r in _collect(problems, lambda: refile.half_done(ws)) or []}
    problems += [_interrupted_refile(ws, r) for r in interrupted.values()]
    pending = store.pending_recovery()
    # Unchanged task files and trails come from the scan cache: no YAML parsed, no line hashed.
    found = scan.scan(ws, trails=True, pending=pending)
    problems += found.errors
    # An interrupted re-file's old task shares its events with the new one, once that exists: the
    # re-file is reported above, not its events as used twice.
    shared = {old for old, r in interrupted.items() if ws.task_file(r.new).exists()}
    kept = [(t, trail) for t, trail in zip(found.tasks, found.trails, strict=True) if t.id not in shared]
    task_list, trails = [t for t, _ in kept], [trail for _, trail in kept]
    problems += sequence_problems(ws, task_list, index, pending=pending)
    problems += [p for task in task_list for p in task.forged]
    problems += [p for task in task_list for p in task.history]
    for trail, task in zip(trails, task_list, strict=True):
        if task.forged and trail.altered:
            # An event already reported for its forged actor (whose fix is to compare it with the
            # trail) is not reported a second time as an altered line.
            flagged = {int(p.field.split("]")[0].removeprefix("events[")) + 1 for p in task.forged if p.field}
            trail.altered = [(n, why) for n, why in trail.altered if n not in flagged]
    problems += [p for trail in trails if not trail.ok for p in audit_chain.problems(ws, trail)]
    problems += _collect(problems, lambda: _refiled_trail_problems(ws, set(interrupted))) or []
    if index is not None:
        live = {t.id: t for t in task_list if t.id not in pending}
        problems += index_problems(ws, index, live)
    return StateReport(problems, {t.task: t.legacy for t in trails if t.legacy})


def _interrupted_refile(ws: Workspace, record: refiled.Refiled) -> StateError:
    return StateError(
        f"the re-file of {record.old} as {record.new} (queue {record.from_queue} → {record.to_queue}) "
        "was interrupted",
        file=ws.rel(ws.refiled_file),
        field=record.old,
        fix=f"run `aios task triage {record.old} --queue {record.to_queue}` again: it finishes the re-file",
    )


def _refiled_trail_problems(ws: Workspace, skip: set[str]) -> list[AiosError]:
    """The trails of re-filed ids, each against the events it held (the new task's first ones)."""
    if not ws.refiled_file.exists():
        return []
    problems: list[AiosError] = []
    for record in refiled.load(ws).refiled:
        view = None if record.old in skip else refile.old_trail_view(ws, record)
        if view is not None:
            problems += audit_chain.problems(ws, audit_chain.verify(ws, view))
    return problems


def _session_problems(
    ws: Workspace, roster: agents.AgentsFile, held: sessions.SessionsFile
) -> list[AiosError]:
    """Sessions of agents that are not registered, and session ids used twice."""
    rel, problems = ws.rel(ws.sessions_file), []
    seen: set[str] = set()
    for i, session in enumerate(held.sessions):
        if roster.get(session.agent_id) is None:
            problems.append(
                StateError(
                    f"session {session.id} belongs to agent {session.agent_id!r}, which is not registered",
                    file=rel,
                    field=f"sessions[{i}].agent_id",
                    fix=f"set its `state: terminated`, or register the agent in {ws.rel(ws.agents_file)}",
                )
            )
        if session.id in seen:
            problems.append(
                StateError(
                    f"session id {session.id} is used twice",
                    file=rel,
                    field=f"sessions[{i}].id",
                    fix="remove the copy",
                )
            )
        seen.add(session.id)
    return problems


def index_problems(
    ws: Workspace, index: Index, task_files: Mapping[str, TaskState | scan.TaskFacts]
) -> list[AiosError]:
    """Entries of the index whose status or queue their task file contradicts (a hand edit).

    A ``status: blocked`` set by hand is an emergency stop the next command records; anything
    else is not applied (the task file is the truth) and the next command restores the entry. An
    entry older than its task file (the file edited by hand: ``history_problems`` says how) is not
    a hand edit of the index.
    """
    problems: list[AiosError] = []
    rel = ws.rel(ws.index_file)
    for tid, entry in sorted(index.tasks.items()):
        task = task_files.get(tid)
        if task is None:
            continue  # a missing task file is reported on its own
        if entry.status is not Status.BLOCKED and entry.mtime != _mtime(ws.task_file(tid)):
            continue
        for key, said, truth in (("status", entry.status, task.status), ("queue", entry.queue, task.queue)):
            if said != truth:
                problems.append(
                    StateError(
                        f"the index says {tid} is {_shown(said)}, but its task file says {_shown(truth)}",
                        file=rel,
                        field=f"tasks.{tid}.{key}",
                        fix=_index_fix(tid, key, said, truth),
                    )
                )
    return problems


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _shown(value: object) -> str:
    return str(getattr(value, "value", value))


def _index_fix(tid: str, key: str, said: object, truth: object) -> str:
    if key == "status" and said is Status.BLOCKED and truth in ACTIVE:
        return (
            f"a hand edit stopping {tid}, not recorded yet: any aios command (`aios task list`) records it "
            f"on ops/audit/{tid}.md; or set it back to {_shown(truth)}"
        )
    return (
        "the task file is the truth and the next aios command restores the index from it; move the task "
        "with `aios task ...` (only `status: blocked` is taken from a hand edit of the index)"
    )


def sequence_problems(
    ws: Workspace,
    task_list: Sequence[TaskState | scan.TaskFacts],
    index: Index | None,
    *,
    pending: set[str] | None = None,
) -> list[AiosError]:
    """Duplicate or missing event seq numbers across ``task_list``, and an index ``seq`` behind them.

    Tasks in ``pending`` (an interrupted commit's journal) may be ahead of the index: the next
    write recovers them, so only the other tasks must not be.
    """
    numbers = [(task.id, _seqs(task)) for task in task_list]
    seen: set[int] = set().union(*(seqs for _, seqs in numbers))
    problems: list[AiosError] = []
    if len(seen) < sum(len(seqs) for _, seqs in numbers):  # a seq used twice: say where (rare)
        problems += _duplicates(ws, numbers)
    top = max(seen, default=0)
    whole = len(seen) == top and min(seen, default=1) == 1  # 1..top, each once: nothing missing
    missing = [] if whole else sorted(set(range(1, top + 1)) - seen)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        problems.append(
            StateError(
                f"event seq numbers {shown} are missing: a task file was deleted or replaced by an old copy",
                file=ws.rel(ws.tasks_dir),
                fix="restore the task file from a backup or from git (its audit trail in ops/audit/ "
                "lists the events it held)",
            )
        )
    pending = pending or set()
    settled = max((max(seqs, default=0) for tid, seqs in numbers if tid not in pending), default=0)
    if index is not None and index.seq < settled:
        problems.append(
            StateError(
                f"the index's seq is {index.seq}, behind event seq {settled} in the task files",
                file=ws.rel(ws.index_file),
                field="seq",
                fix="run `aios state rebuild`, or the next event reuses a number",
            )
        )
    return problems


def _seqs(task: TaskState | scan.TaskFacts) -> Sequence[int]:
    return task.seqs if isinstance(task, scan.TaskFacts) else [e.seq for e in task.events]


def _duplicates(ws: Workspace, numbers: list[tuple[str, Sequence[int]]]) -> list[AiosError]:
    owners: dict[int, list[str]] = {}
    for tid, seqs in numbers:
        for number, seq in enumerate(seqs, 1):
            owners.setdefault(seq, []).append(f"{tid} event {number}")
    return [
        StateError(
            f"event seq {seq} is used {len(where)} times ({', '.join(where)}), so their order is lost",
            file=ws.rel(ws.tasks_dir),
            fix="give the later event the next free seq by hand (see the audit trails in ops/audit/), "
            "then run `aios state rebuild`",
        )
        for seq, where in sorted(owners.items())
        if len(where) > 1
    ]


def rebuild(ws: Workspace) -> Rebuilt:
    """Rebuild the index (``Store.rebuild``); a queue kept locked for want of a readable lock is
    recorded in ``ops/freeze/queue-locks.md``, so the history of locks says why it is frozen."""
    result = open_store(ws).rebuild()
    if result.salvaged:
        queues.record_freeze(
            ws,
            sorted(result.salvaged),
            verb="kept locked",
            actor=REBUILD_ACTOR,
            reason="the old index could not be read; unlock explicitly with `aios queue unlock`",
        )
    return result


def _collect(problems: list[AiosError], check: Callable[[], Any]) -> Any:
    try:
        return check()
    except AiosError as exc:
        problems.append(exc)
    except FileNotFoundError as exc:
        problems.append(
            StateError("file is missing", file=exc.filename, fix="run `aios init` to recreate it")
        )
    return None
