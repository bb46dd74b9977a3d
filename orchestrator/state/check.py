"""``aios state check`` and ``aios state rebuild``: validate every state file; rebuild the index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator import _yaml
from orchestrator.errors import AiosError, StateError
from orchestrator.state import queues
from orchestrator.state.audit import check_actor
from orchestrator.state.records import Index, TaskState
from orchestrator.state.store import REBUILD_ACTOR, Rebuilt, Store
from orchestrator.state.workspace import Workspace


def check_state(ws: Workspace) -> list[AiosError]:
    """Every problem in project.yaml, the index, agents/sessions files and each task file.

    Beyond each file's own validity, the event sequence numbers across all tasks must be unique
    and run 1, 2, 3, ... without a gap, and the index's ``seq`` must not be behind them: a
    number used twice means two events whose order is lost.
    """
    store = Store(ws)
    problems: list[AiosError] = []
    _collect(problems, lambda: ws.project)
    index = _collect(problems, store.read_index)
    for path in (ws.agents_file, ws.sessions_file):
        _collect(
            problems,
            lambda p=path: _yaml.load(p.read_text(encoding="utf-8"), file=ws.rel(p), error=StateError),
        )
    task_list = [
        t
        for p in sorted(ws.tasks_dir.glob("TASK_*.yaml"))
        if (t := _collect(problems, lambda p=p: store.read_task(p.stem)))
    ]
    problems += sequence_problems(ws, task_list, index, pending=store.pending_recovery())
    problems += [p for task in task_list for p in _actor_problems(ws, task)]
    return problems


def _actor_problems(ws: Workspace, task: TaskState) -> list[AiosError]:
    """Events recorded (before names were checked) by an actor that could forge audit lines."""
    problems: list[AiosError] = []
    for number, event in enumerate(task.events, 1):
        try:
            check_actor(event.actor)
        except AiosError as exc:
            problems.append(
                StateError(
                    exc.message,
                    file=ws.rel(ws.task_file(task.id)),
                    field=f"events[{number - 1}].actor",
                    fix=f"compare {ws.rel(ws.audit_file(task.id))} with the task file: a line after event "
                    f"#{number} there may be forged",
                )
            )
    return problems


def sequence_problems(
    ws: Workspace, task_list: list[TaskState], index: Index | None, *, pending: set[str] | None = None
) -> list[AiosError]:
    """Duplicate or missing event seq numbers across ``task_list``, and an index ``seq`` behind them.

    Tasks in ``pending`` (an interrupted commit's journal) may be ahead of the index: the next
    write recovers them, so only the other tasks must not be.
    """
    owners: dict[int, list[str]] = {}
    for task in task_list:
        for number, event in enumerate(task.events, 1):
            owners.setdefault(event.seq, []).append(f"{task.id} event {number}")
    problems: list[AiosError] = [
        StateError(
            f"event seq {seq} is used {len(where)} times ({', '.join(where)}), so their order is lost",
            file=ws.rel(ws.tasks_dir),
            fix="give the later event the next free seq by hand (see the audit trails in ops/audit/), "
            "then run `aios state rebuild`",
        )
        for seq, where in sorted(owners.items())
        if len(where) > 1
    ]
    top = max(owners, default=0)
    missing = sorted(set(range(1, top + 1)) - owners.keys())
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
    settled = max((e.seq for t in task_list if t.id not in (pending or set()) for e in t.events), default=0)
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


def rebuild(ws: Workspace) -> Rebuilt:
    """Rebuild the index (``Store.rebuild``); a queue kept locked for want of a readable lock is
    recorded in ``ops/freeze/queue-locks.md``, so the history of locks says why it is frozen."""
    result = Store(ws).rebuild()
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
