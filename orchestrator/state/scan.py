"""Full scans of the task files and their audit trails, fast at any size.

``aios task list --all``, ``state check``, ``state rebuild``, ``metrics`` and ``health`` read every
task file. The files stay the truth, hand-editable; what a scan needs of each (its summary, its
event seq numbers, the problems it shows on its own, the verdict on its audit trail, the task
itself) is kept in the derived cache (``_cache``) and reused while the file, and for a trail
both files, are unchanged. A changed, new or hand-edited file is read again at once; a deleted one
drops out of the scan and the cache. At 50,000 tasks an unchanged scan reads no YAML.

``parse_task`` is the one way a task file's text becomes a ``TaskState``.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import _yaml
from orchestrator._files import read_text
from orchestrator.errors import StateError
from orchestrator.state import audit, audit_chain, backends, history
from orchestrator.state._cache import FileCache, source_digest, stat_key, task_files
from orchestrator.state._rows import CHECKED, FACTS, TASK, versions
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import TaskState
from orchestrator.state.workspace import Workspace

#: What the cache keeps of a task file (``_rows``: light, so ``peek`` reads rows without this module).
_FACTS, _TASK, _CHECKED = FACTS, TASK, CHECKED
_versions = versions


def parse_task(ws: Workspace, text: str, path: Path) -> TaskState:
    """Validate the text of the task file at ``path``; its id must be the file's name.

    Raises:
        StateError: not YAML, not a task, or a task with another id (names file, field and fix).
    """
    rel = ws.rel(path)
    data = _yaml.load(text, file=rel, error=StateError)
    task = _yaml.validate(TaskState, data, file=rel, text=text, error=StateError)
    if path.stem != task.id:
        raise StateError(
            f"the file holds task {task.id}",
            file=rel,
            field="id",
            fix=f"set id back to {path.stem}, or rename the file to {task.id}.yaml",
        )
    return task


@dataclass(slots=True)
class TaskFacts:
    """What a full scan needs of one readable task file."""

    id: str
    mtime: int
    """``st_mtime_ns`` of the file as scanned (what the index records)."""
    status: Status
    queue: str
    priority: int
    title: str
    seqs: tuple[int, ...]
    """The seq of each event, in order."""
    forged: Sequence[StateError] = ()
    """Events recorded by an actor name that could forge audit lines (``history.actor_problems``)."""
    history: Sequence[StateError] = ()
    """Events that are not lifecycle moves, a status edited by hand (``history.history_problems``)."""


@dataclass
class Scan:
    """Every task file of a workspace, in id order."""

    tasks: list[TaskFacts]
    """The files that read as tasks."""
    errors: list[StateError]
    """Why each other file does not (not YAML, not a task, not UTF-8)."""
    trails: list[audit_chain.TrailReport] = field(default_factory=list)
    """The verdict on each readable task's audit trail (``scan(..., trails=True)`` only)."""


def scan(ws: Workspace, *, trails: bool = False, pending: set[str] | None = None) -> Scan:
    """Every task file's facts and, with ``trails``, the verdict on each task's audit trail.

    ``pending``: task ids of an interrupted commit (``Store.pending_recovery``), whose last events
    may still lack their trail lines; their trails are verified afresh, never from the cache.
    """
    if (shared := _shared(ws)) is not None:
        return _scan_shared(ws, shared, trails=trails)
    with _Scanner(ws) as scanner:
        return scanner.scan(trails=trails, pending=pending or set())


def _shared(ws: Workspace) -> Callable[[], Iterator[TaskState]] | None:
    """The tasks in PostgreSQL when the state is there: scans read its tables, not task files."""
    url = backends.shared_state_url(ws)
    if url is None:
        return None
    from orchestrator.state import _pg  # psycopg: only when a URL is set

    return lambda: _pg.all_tasks(url, backends.workspace_id(ws))


def _scan_shared(ws: Workspace, all_tasks: Callable[[], Iterator[TaskState]], *, trails: bool) -> Scan:
    """``scan`` over the database's tasks. Each task's trail is the events table's; this machine's
    view of it (``ops/audit/``) is brought up to the events before it is verified."""
    result = Scan([], [])
    for task in all_tasks():
        facts = _from_json(f"{task.id}.yaml", None, _facts_json(ws, task))
        assert isinstance(facts, TaskFacts)  # made from a valid task just now
        result.tasks.append(facts)
        if trails:
            audit.append(ws, task, start=min(audit.recorded_count(ws, task.id), len(task.events)))
            result.trails.append(audit_chain.verify(ws, task))
    return result


def tasks(ws: Workspace, ids: Collection[str] | None = None) -> Iterator[TaskState]:
    """Every task (or those of ``ids``), in id order (an unchanged file's task comes from the
    cache, without YAML).

    Raises:
        StateError: a task file does not read as a task (the first, in id order).
    """
    if (shared := _shared(ws)) is not None:
        yield from (t for t in shared() if ids is None or t.id in ids)
        return
    names = None if ids is None else {f"{tid}.yaml" for tid in ids}
    scanner = _Scanner(ws)  # not `with`: the garbage collector stays on while the caller works
    try:
        for name, st in scanner.files.items():
            if names is None or name in names:
                yield scanner.task(name, st, bulk=True)
    except BaseException:
        scanner.cache.close()
        raise
    scanner.finish()


def task_of(ws: Workspace, tid: str) -> TaskState:
    """One task: from the cache while its file is unchanged, else read and kept there, so the next
    look (``peek.task``: ``aios task status``) needs no YAML and no pydantic.

    Raises:
        StateError: no such task, or its file does not read as a task.
    """
    name = f"{tid}.yaml"
    try:
        st: os.stat_result | None = os.stat(ws.task_file(tid))
    except OSError:
        st = None
    scanner = _Scanner(ws, files={name: st})
    try:
        return scanner.task(name, st, keep=True)  # one row asked for, not every task's
    finally:
        scanner.cache.save()  # not `finish`: rows of the files not listed here stay
        scanner.cache.close()


def cached(ws: Workspace, kind: str, paths: list[Path], derive: Callable[[Path], Any]) -> list[Any]:
    """``derive(path)`` for each of ``paths``, reused while the file is unchanged.

    For values other layers derive from workspace files (``metrics`` reads every trail). The values
    must be JSON (lists, dicts, strings, numbers). ``kind`` names what is derived; ``paths`` are all
    its files (the rows of others are dropped). Rows are versioned by the source of the module
    defining ``derive``: editing it drops them. A file missing or changing while read is not cached.
    """
    out = []
    root = f"{ws.root}{os.sep}"
    module = sys.modules.get(getattr(derive, "__module__", ""))
    version = source_digest(getattr(module, "__file__", None))
    names: set[str] = set()
    with FileCache(ws.scan_cache, versions={kind: version}) as cache:
        for path in paths:
            name = str(path)
            name = name[len(root) :] if name.startswith(root) else name  # Path.relative_to: 20 µs
            names.add(name)
            try:
                before = os.stat(path)
            except OSError:
                out.append(derive(path))
                continue
            key = stat_key(before)
            value = cache.get(kind, name, key)
            if value is None:
                value = derive(path)
                if _stable(cache, path, before):
                    cache.put(kind, name, key, value)
            out.append(value)
        cache.retain(kind, names)
    return out


class _Scanner:
    """One scan: the task files listed once, the cache opened once."""

    def __init__(self, ws: Workspace, files: dict[str, os.stat_result | None] | None = None) -> None:
        """``files``: the task files to read, by name, with their stat (default: every one)."""
        self.ws = ws
        self.cache = FileCache(ws.scan_cache, versions=_versions())
        self.files = task_files(ws.tasks_dir, ".yaml") if files is None else files
        self.tasks_rel = ws.rel(ws.tasks_dir)
        # The last task parsed, for the trail check right after its facts: keeping every task of a
        # cold 50,000-task scan would hold a gigabyte.
        self._parsed: dict[str, TaskState] = {}

    def __enter__(self) -> _Scanner:
        self.cache.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self._forget_deleted()
        self.cache.__exit__(*exc)

    def finish(self) -> None:
        """Save and close the cache (what ``with`` does, for a scan that did not pause the collector)."""
        self._forget_deleted()
        self.cache.save()
        self.cache.close()

    def _forget_deleted(self) -> None:
        gone = self.cache.retain(_FACTS, set(self.files))
        self.cache.forget(_TASK, gone)
        self.cache.forget(_CHECKED, gone)

    def scan(self, *, trails: bool, pending: set[str]) -> Scan:
        result = Scan([], [])
        where = self._trail_locations() if trails else {}
        for name, st in self.files.items():
            if trails:
                found, report = self._checked(name, st, where, pending)
            else:
                found, report = self._facts(name, st)[0], None
            if isinstance(found, StateError):
                result.errors.append(found)
                continue
            result.tasks.append(found)
            if report is not None:
                result.trails.append(report)
        return result

    def task(
        self, name: str, st: os.stat_result | None, *, bulk: bool = False, keep: bool | None = None
    ) -> TaskState:
        """The task in ``name``, from the cache, this scan, or the file (cached by a ``bulk`` read:
        only ``tasks`` needs whole tasks, 2 KB each, where the other scans keep a digest; and by
        ``keep``, for ``task_of``)."""
        if name in self._parsed:
            return self._parsed[name]
        key = stat_key(st) if st else None
        text = self.cache.get(_TASK, name, key, bulk=bulk) if key else None
        if isinstance(text, str):
            try:
                task = TaskState.model_validate_json(text)
            except ValueError:
                task = None  # a damaged row: read the file
            if task is not None and task.id == name[:-5]:
                return task
        return self._read(name, st, keep=bulk if keep is None else keep)

    def _read(self, name: str, st: os.stat_result | None, *, keep: bool) -> TaskState:
        path = self.ws.tasks_dir / name
        try:
            text = read_text(path, file=f"{self.tasks_rel}/{name}")
        except FileNotFoundError:
            raise StateError(f"no task {name[:-5]}", fix="check the id with `aios task list --all`") from None
        task = parse_task(self.ws, text, path)
        self._parsed = {name: task}
        if keep and st is not None and _stable(self.cache, path, st):
            self.cache.put(_TASK, name, stat_key(st), task.model_dump_json(by_alias=True))
        return task

    def _facts(self, name: str, st: os.stat_result | None) -> tuple[TaskFacts | StateError, Any]:
        """The file's facts (or why it is no task), and the JSON they are kept as."""
        key = stat_key(st) if st else None
        value = self.cache.get(_FACTS, name, key) if key else None
        found = _from_json(name, st, value) if value is not None else None
        if found is not None and self._same_trail(found, value):
            return found, value
        try:
            task = self.task(name, st)
        except StateError as exc:
            value = {"error": _error_json(exc)}
        else:
            value = _facts_json(self.ws, task)
        if key and _stable(self.cache, self.ws.tasks_dir / name, st):  # type: ignore[arg-type]
            self.cache.put(_FACTS, name, key, value)
        return _from_json(name, st, value) or StateError("unreadable cache entry"), value

    def _same_trail(self, found: TaskFacts | StateError, value: Any) -> bool:
        """Whether the fixes of the cached problems name the trail where it is now (a trail moves to
        ``ops/archive/``): only looked at for a task with problems, so rarely."""
        if isinstance(found, StateError) or not (found.forged or found.history):
            return True
        return bool(value[8] == self.ws.rel(self.ws.audit_file(found.id)))

    def _checked(
        self, name: str, st: os.stat_result | None, where: dict[str, _Where], pending: set[str]
    ) -> tuple[TaskFacts | StateError, audit_chain.TrailReport | None]:
        """The file's facts and the verdict on its trail, kept together under both files' keys."""
        tid = name[:-5]
        rel, trail_st = where[tid]
        key = f"{stat_key(st) if st else '-'}|{rel}|{stat_key(trail_st) if trail_st else '-'}"
        if st is not None and tid not in pending:
            value = self.cache.get(_CHECKED, name, key)
            if isinstance(value, list) and len(value) == 2:
                found = _from_json(name, st, value[0])
                report = _report_from_json(tid, value[1])
                if isinstance(found, TaskFacts) and report is not None:
                    return found, report
        found, facts = self._facts(name, st)
        if isinstance(found, StateError):
            return found, None
        report = audit_chain.verify(self.ws, self.task(name, st), pending=tid in pending)
        path = self.ws.root / rel
        if tid in pending or st is None or not _stable(self.cache, self.ws.tasks_dir / name, st):
            return found, report
        if (trail_st is None and not path.exists()) or (trail_st and _stable(self.cache, path, trail_st)):
            self.cache.put(_CHECKED, name, key, [facts, _report_json(report)])
        return found, report

    def _trail_locations(self) -> dict[str, _Where]:
        """Task id -> where ``Workspace.audit_file`` finds its trail (relative), and its stat."""
        audit_rel, archive_rel = self.ws.rel(self.ws.audit_dir), self.ws.rel(self.ws.archive_dir)
        archived = task_files(self.ws.archive_dir, ".md")
        where = {name[:-3]: (f"{archive_rel}/{name}", st) for name, st in archived.items()}
        for name, st in task_files(self.ws.audit_dir, ".md").items():
            where[name[:-3]] = (f"{audit_rel}/{name}", st)  # a live trail wins, as in audit_file
        for name in self.files:
            where.setdefault(name[:-5], (f"{audit_rel}/{name[:-5]}.md", None))
        return where


#: Where a task's trail is (relative to the workspace root), and its stat (None: no trail).
_Where = tuple[str, "os.stat_result | None"]


def _stable(cache: FileCache, path: Path, before: os.stat_result) -> bool:
    """Whether ``path`` may be cached: a regular file, old enough, and not changed while read."""
    if not stat.S_ISREG(before.st_mode) or not cache.cachable(before):
        return False
    try:
        return stat_key(os.stat(path)) == stat_key(before)
    except OSError:
        return False


def _error_json(exc: StateError) -> list[Any]:
    return [exc.message, exc.file, exc.field, exc.line, exc.fix]


def _error(data: Any) -> StateError:
    message, file, field_, line, fix = data
    return StateError(message, file=file, field=field_, line=line, fix=fix)


def _facts_json(ws: Workspace, task: TaskState) -> list[Any]:
    # A list, not a dict: half the decoding time, 50,000 times a scan.
    return [
        task.id,
        task.status.value,
        task.queue,
        task.priority,
        task.title,
        [e.seq for e in task.events],
        [_error_json(p) for p in history.actor_problems(ws, task)],
        [_error_json(p) for p in history.history_problems(ws, task)],
        ws.rel(ws.audit_file(task.id)),  # named by the fixes above
    ]


def _from_json(name: str, st: os.stat_result | None, value: Any) -> TaskFacts | StateError | None:
    """The facts (or the error) kept in ``value``; None when the row is damaged."""
    try:
        if isinstance(value, dict):
            return _error(value["error"])
        tid, status, queue, priority, title, seqs, forged, problems, _trail = value
        if tid != name[:-5] or not isinstance(title, str) or not isinstance(queue, str):
            return None
        return TaskFacts(
            tid,
            st.st_mtime_ns if st else 0,
            _STATUSES.get(status) or Status(status),
            queue,
            int(priority),
            title,
            tuple(seqs),
            [_error(p) for p in forged] if forged else (),  # most have none: no list to make
            [_error(p) for p in problems] if problems else (),
        )
    except (KeyError, TypeError, ValueError):
        return None


#: Status by value: an Enum call costs a microsecond, 50,000 times a scan.
_STATUSES: dict[Any, Status] = {s.value: s for s in Status}
#: A trail with every line chained and matching.
_CLEAN = [0, [], [], []]


def _report_json(report: audit_chain.TrailReport) -> list[Any]:
    return [report.legacy, report.unaudited, report.altered, report.numbering]


def _report_from_json(tid: str, value: Any) -> audit_chain.TrailReport | None:
    if value == _CLEAN:
        return audit_chain.TrailReport(tid)  # the common case, without parsing empty lists
    try:
        legacy, unaudited, altered, numbering = value
        return audit_chain.TrailReport(
            tid,
            legacy=int(legacy),
            unaudited=[int(n) for n in unaudited],
            altered=[(int(n), str(why)) for n, why in altered],
            numbering=[(int(n), str(why)) for n, why in numbering],
        )
    except (TypeError, ValueError):
        return None
