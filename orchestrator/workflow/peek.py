"""Where a task's review run stands, read from its SQLite checkpoint without the graph stack.

``runs.status`` builds the whole graph to ask LangGraph for a snapshot: langgraph, langchain-core
and langsmith imported, every node compiled, about a second, to read one row. The graph's state
is plain data (``checkpoint.ReviewState``) and the checkpoint is msgpack, so this module reads
the latest checkpoint's row and its pending writes with ``ormsgpack`` alone and builds the same
``RunStatus`` JSON (``STATUS_KEYS``) from them.

It answers only for what it can read surely, and returns None otherwise (the caller then asks
``runs.status``, which also finishes what needs the graph):

- a workspace whose checkpoints or state are not the embedded files (``state.peek.embedded``);
- a checkpoint whose only pending writes are interrupts (a step cut short leaves node writes that
  only the graph knows how to apply), with at most one interrupt;
- a run where the merge may be next (an approved merge a killed process left unfinished: the full
  path says what to do about it);
- anything not in the shape expected: another serializer, an extension type where plain data
  should be, a database that cannot be read.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from orchestrator.state import peek as state_peek
from orchestrator.state.workspace import Workspace

#: ``RunStatus``'s keys, in order (the ``aios review status --json`` contract).
STATUS_KEYS = ("task", "status", "round", "verdict", "waiting_for", "merged", "reasons", "findings", "note")
#: ``RunFinding``'s keys, in order.
FINDING_KEYS = ("dimension", "severity", "file", "line", "rule", "message", "suggestion", "persona")
_INTERRUPT = "__interrupt__"
_MERGE = "branch:to:merge"


class _Ext:
    """A msgpack extension value (a class instance LangGraph's serializer wrote), kept undecoded."""

    def __init__(self, code: int, payload: Any) -> None:
        self.code, self.payload = code, payload


def status(ws: Workspace, tid: str) -> dict[str, Any] | None:
    """``runs.status(ws, tid).model_dump(mode="json")``, or None when it cannot be read surely."""
    if not state_peek.embedded(ws):
        return None
    found = _latest(ws, tid)
    if found is None:
        return None
    values, waiting = found
    findings = values.get("findings") or []
    if not all(isinstance(f, dict) and all(k in f for k in FINDING_KEYS) for f in findings):
        return None
    from orchestrator import redact

    redact.load_hashes(ws.secret_hashes_file(tid))  # as runs.status: mask what earlier rounds found
    data = {
        "task": tid,
        "status": _task_status(ws, tid),
        "round": values.get("round", 0),
        "verdict": values.get("verdict"),
        "waiting_for": waiting,
        "merged": values.get("merged"),
        "reasons": values.get("reasons", []),
        "findings": [{k: f[k] for k in FINDING_KEYS} for f in findings],
        "note": None,
    }
    return None if _has_ext(data) else data


def _task_status(ws: Workspace, tid: str) -> str:
    """The task's status: from the scan cache, else read (and kept there for the next look)."""
    task = state_peek.task(ws, tid)
    if task is not None:
        return str(task["status"])
    from orchestrator.state import tasks

    return tasks.get(ws, tid, keep=True).status.value


def _latest(ws: Workspace, tid: str) -> tuple[dict[str, Any], str | None] | None:
    """The latest checkpoint's values and the kind of interrupt it waits at; None when unsure."""
    if not ws.checkpoints_db.exists():
        return {}, None  # no run yet, as the graph reports it
    try:
        db = sqlite3.connect(f"file:{ws.checkpoints_db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return _read(db, tid)
    except (sqlite3.Error, ValueError, TypeError, KeyError, AttributeError):
        return None  # not the layout or contents expected: the graph's own reader says what it is
    finally:
        db.close()


def _read(db: sqlite3.Connection, tid: str) -> tuple[dict[str, Any], str | None] | None:
    row = db.execute(
        "SELECT checkpoint_id, type, checkpoint FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
        "ORDER BY checkpoint_id DESC LIMIT 1",
        (tid,),
    ).fetchone()
    if row is None:
        return {}, None
    checkpoint_id, kind, blob = row
    checkpoint = _decode(kind, blob)
    if not isinstance(checkpoint, dict) or _merge_may_be_next(checkpoint):
        return None
    writes = db.execute(
        "SELECT channel, type, value FROM writes "
        "WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
        (tid, checkpoint_id),
    ).fetchall()
    if any(channel != _INTERRUPT for channel, _, _ in writes):
        return None  # a step cut short: only the graph knows what its writes come to
    interrupts = [i for _, kind, value in writes for i in _decode(kind, value)]
    if len(interrupts) > 1:
        return None
    waiting = _interrupt_kind(interrupts[0]) if interrupts else None
    if interrupts and waiting is None:
        return None
    values = {
        k: v for k, v in checkpoint["channel_values"].items() if not k.startswith(("branch:", "join:", "__"))
    }
    return values, waiting


def _decode(kind: str, blob: bytes) -> Any:
    """A value LangGraph's serializer wrote as msgpack, its extension types left as ``_Ext``."""
    if kind != "msgpack":
        raise ValueError(f"a {kind} value")  # JSON, pickle: the serializer's own reader
    import ormsgpack

    return ormsgpack.unpackb(blob, ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)


def _ext_hook(code: int, data: bytes) -> _Ext:
    import ormsgpack

    return _Ext(code, ormsgpack.unpackb(data, ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS))


def _interrupt_kind(value: Any) -> str | None:
    """The ``kind`` of a LangGraph ``Interrupt`` (written as its module, class and keyword args)."""
    if not isinstance(value, _Ext) or not isinstance(value.payload, list) or len(value.payload) != 3:
        return None
    module, name, fields = value.payload
    if (module, name) != ("langgraph.types", "Interrupt") or not isinstance(fields, dict):
        return None
    payload = fields.get("value")
    kind = payload.get("kind") if isinstance(payload, dict) else None
    return kind if kind in ("human_review", "escalation", "builder") else None


def _merge_may_be_next(checkpoint: dict[str, Any]) -> bool:
    """Whether the merge node is triggered and has not run since (or it cannot be told)."""
    version = checkpoint["channel_versions"].get(_MERGE)
    if version is None:
        return False
    seen = checkpoint["versions_seen"].get("merge", {}).get(_MERGE)
    if seen is None:
        return True
    if type(seen) is not type(version):
        return True
    return bool(version > seen)


def _has_ext(value: Any) -> bool:
    if isinstance(value, _Ext):
        return True
    if isinstance(value, dict):
        return any(_has_ext(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ext(v) for v in value)
    return False
