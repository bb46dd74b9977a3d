"""Reads for the commands that only look (``aios task status``, ``aios task list``), without
pydantic, YAML models or the store.

A command showing one task should cost about what reading it costs; importing the models that
validate tasks and the store that writes them costs ten times that. Each function here answers
only when what it reads is surely as aios itself wrote it, and returns None otherwise; the caller
then takes the full path (``tasks.get``, ``tasks.listing``), which records a hand edit, validates
and says what is wrong:

- the index counts only while its stamp says aios wrote it (``_stamp.edited``); a hand edit is
  first recorded by the full path, as by every reader;
- a task comes from the scan cache's row for its file (``_rows.TASK``: the task as the code in use
  validated and dumped it), found by the file's stat key: any write to the file moves the key;
- a live task's index entry counts only while its file's mtime is the one the index recorded;
- every task's list row comes from the scan cache's facts of its file (``_rows.FACTS``), each
  found by its file's stat key, as a full scan finds them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from orchestrator.state._cache import FileCache, stat_key, task_files
from orchestrator.state._rows import FACTS, FACTS_LENGTH, LIVE, TASK, versions
from orchestrator.state._stamp import edited
from orchestrator.state.workspace import Workspace

#: The keys of a ``task list`` row, in order.
LIST_KEYS = ("id", "status", "queue", "priority", "title")


def embedded(ws: Workspace) -> bool:
    """Whether the workspace keeps its state and checkpoints in its own files (the default): no
    ``AIOS_*_URL`` variable set and no ``backends:`` in ``state/project.yaml`` (``state.backends``).
    Only then are the files read here the truth."""
    if any(os.environ.get(v) for v in _BACKEND_VARIABLES):
        return False
    try:
        text = ws.project_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return _BACKENDS.search(text) is None


_BACKEND_VARIABLES = ("AIOS_STATE_URL", "AIOS_CHECKPOINT_URL", "AIOS_LANGGRAPH_URL")
_BACKENDS = re.compile(r"(?m)^\s*backends\s*:")


def may_be_due(ws: Workspace) -> bool:
    """Whether an escalation may be due: the escalations file has a ``due_at`` at all (or cannot be
    read). Only then does the check every command starts with import the escalation records to
    compare the times (``state.escalations.overdue``); most workspaces have no such file."""
    try:
        return "due_at:" in ws.escalations_file.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, UnicodeDecodeError):
        return True  # the full check says what is wrong


def task(ws: Workspace, tid: str) -> dict[str, Any] | None:
    """``tid``'s task as ``TaskState.model_dump(mode="json", by_alias=True)`` gives it; None when
    the index was edited by hand or the task file is not in the scan cache as it is now."""
    if not embedded(ws) or _index_text(ws) is None:
        return None
    path = ws.task_file(tid)
    try:
        key = stat_key(os.stat(path))
    except OSError:
        return None  # no such task (or re-filed): the full path says so
    cache = FileCache(ws.scan_cache, versions=versions())
    try:
        text = cache.get(TASK, path.name, key, bulk=False)
    finally:
        cache.close()
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None  # a damaged row: read the file
    return data if isinstance(data, dict) and data.get("id") == tid else None


def live(ws: Workspace) -> list[dict[str, Any]] | None:
    """``tasks.listing(ws)``'s rows (the live tasks, by id), read from the index alone; None when
    the index was edited by hand, has another shape, or a task file changed since it was indexed.

    What the index lists is kept in the scan cache under the index file's stat key: while the
    index is unchanged, its YAML is not read again.
    """
    if not embedded(ws):
        return None
    try:
        st = os.stat(ws.index_file)
    except OSError:
        return None
    with FileCache(ws.scan_cache, versions=versions()) as cache:
        entries = cache.get(LIVE, ws.index_file.name, stat_key(st), bulk=False)
        if not isinstance(entries, list):
            entries = _index_entries(ws)
            if entries is not None and cache.cachable(st) and _same_file(ws.index_file, st):
                cache.put(LIVE, ws.index_file.name, stat_key(st), entries)
    if entries is None:
        return None
    rows = []
    for tid, status, queue, priority, title, mtime in entries:
        if _mtime(ws, tid) != mtime:
            return None  # the file changed since it was indexed: the full path reads it
        if status != "done":
            rows.append(dict(zip(LIST_KEYS, (tid, status, queue, priority, title), strict=True)))
    return rows


def everything(ws: Workspace) -> list[dict[str, Any]] | None:
    """``tasks.listing(ws, include_done=True)``'s rows (every task, by id), from the scan cache;
    None when the index was edited by hand or a task file is not in the cache as it is now (new,
    changed, or not a task: the full path reads it, says what is wrong and caches it)."""
    if not embedded(ws) or _index_text(ws) is None:
        return None
    rows = []
    with FileCache(ws.scan_cache, versions=versions()) as cache:
        for name, st in task_files(ws.tasks_dir, ".yaml").items():
            facts = cache.get(FACTS, name, stat_key(st)) if st is not None else None
            # An error kept for a file that is no task is a dict: the full path raises it.
            if not isinstance(facts, list) or len(facts) != FACTS_LENGTH or facts[0] != name[:-5]:
                return None
            rows.append(dict(zip(LIST_KEYS, facts, strict=False)))  # the first five facts
    return rows


def _index_entries(ws: Workspace) -> list[list[Any]] | None:
    """Each task's ``[id, status, queue, priority, title, mtime]`` from the index's YAML, by id;
    None when it is not as aios wrote it."""
    text = _index_text(ws)
    if text is None:
        return None
    from orchestrator import _yaml
    from orchestrator.errors import AiosError

    try:
        data = _yaml.load(text, file=ws.rel(ws.index_file))
    except AiosError:
        return None
    entries = data.get("tasks") if isinstance(data, dict) and data.get("schema_version") == 1 else None
    if not isinstance(entries, dict):
        return None
    keys = (*LIST_KEYS[1:], "mtime")
    if not all(isinstance(e, dict) and all(k in e for k in keys) for e in entries.values()):
        return None  # not the shape aios writes: let the index's model read it
    return [[tid, *(entries[tid][k] for k in keys)] for tid in sorted(entries)]


def _same_file(path: Path, before: os.stat_result) -> bool:
    """Whether ``path`` is still the file it was when ``before`` was taken (not replaced meanwhile)."""
    try:
        return stat_key(os.stat(path)) == stat_key(before)
    except OSError:
        return False


def _index_text(ws: Workspace) -> str | None:
    """The index's text while it is as aios wrote it; None when edited by hand or unreadable."""
    try:
        text = ws.index_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return None if edited(text) else text


def _mtime(ws: Workspace, tid: str) -> int | None:
    try:
        return os.stat(ws.task_file(tid)).st_mtime_ns
    except OSError:
        return None
