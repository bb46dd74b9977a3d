"""``state/refiled.yaml``: tasks re-filed into another queue at triage, each under a new id.

A task id embeds its queue (``TASK_DEV_0003``), so moving a task to another queue gives it a new
id. The record is written first (the intent: a re-file a crash interrupts is finished from it,
``state.refile``) and kept for good: the old id answers ``aios task status`` with where the task
went, is never given to another task, and its audit trail (``ops/audit/<OLD>.md``, left as it was
written, with a last ``refile`` event) is verified against the new task's first events.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.state import _roster
from orchestrator.state.taskcard import TASK_ID
from orchestrator.state.workspace import Workspace


class Refiled(BaseModel):
    """One re-file: ``old`` became ``new`` in queue ``to_queue``."""

    model_config = ConfigDict(extra="forbid")

    old: str = Field(pattern=TASK_ID.pattern)
    new: str = Field(pattern=TASK_ID.pattern)
    from_queue: str
    to_queue: str
    by: str
    at: str
    reason: str | None = None
    session: str | None = None
    card_from: str
    """The old TaskCard's path (relative to the workspace root)."""
    card_to: str
    """The new TaskCard's path: ``<NEW>.md`` beside the old one, or the same file rewritten."""
    events: int = Field(ge=1)
    """How many events the old trail holds: the new task's first ``events`` events, the refile
    event last."""


class RefiledFile(BaseModel):
    """The contents of ``state/refiled.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    refiled: list[Refiled] = Field(default_factory=list)

    def get(self, old: str) -> Refiled | None:
        return next((r for r in self.refiled if r.old == old), None)


_HEADER = """\
# Tasks re-filed into another queue at triage (aios task triage ID --queue Q): old id -> new id.
# Written by aios; the old ids are never reused.
"""


def load(ws: Workspace) -> RefiledFile:
    """Read and validate ``state/refiled.yaml`` (none yet: nothing re-filed)."""
    return _roster.load(ws, ws.refiled_file, RefiledFile)


def add(ws: Workspace, record: Refiled) -> None:
    """Append ``record`` (the caller holds the state lock)."""
    held = load(ws)
    held.refiled.append(record)
    _roster.save(ws.refiled_file, _HEADER, held)


def find(ws: Workspace, old: str) -> Refiled | None:
    """The re-file of ``old``, if it was re-filed (cheap when nothing ever was)."""
    if not ws.refiled_file.exists():
        return None
    return load(ws).get(old)


def current_id(ws: Workspace, tid: str) -> str:
    """The id ``tid`` goes by now, following re-files (``tid`` itself if never re-filed)."""
    held = load(ws) if ws.refiled_file.exists() else RefiledFile()
    seen = {tid}
    while (record := held.get(tid)) is not None and record.new not in seen:
        tid = record.new
        seen.add(tid)
    return tid


def taken(ws: Workspace) -> set[str]:
    """Every id a re-file used, old or new: never given to a new task."""
    if not ws.refiled_file.exists():
        return set()
    return {i for r in load(ws).refiled for i in (r.old, r.new)}
