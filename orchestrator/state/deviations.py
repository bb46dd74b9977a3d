"""Deviations: ``ops/deviations/<date>-DEV-NNNN.md``, an L2 override of the policy, with its reason,
its scope (task ids and paths) and an expiry.

A deviation is ``open`` until it is resolved or its expiry passes (``expired``: still unresolved,
so the governance gate refuses the tasks it covers until someone resolves it). A merge the
review policy did not approve needs an open deviation covering its task.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator

from orchestrator._files import atomic_write
from orchestrator._lock import exclusive
from orchestrator.errors import StateError
from orchestrator.state import _frontmatter
from orchestrator.state._frontmatter import Record, TaskId
from orchestrator.state.records import now
from orchestrator.state.workspace import Workspace

PREFIX = "DEV"


class DeviationState(StrEnum):
    OPEN = "open"
    EXPIRED = "expired"
    RESOLVED = "resolved"


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (``2026-12-06T10:00:00Z``, or a date: midnight UTC) as an aware datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_EXPIRY_FIX = "give a duration (`12h`, `7d`, `2w`) or a time (`2026-12-31` or `2026-12-31T18:00:00Z`)"


def expiry(text: str, *, at: datetime | None = None) -> str:
    """``--expires`` as an ISO 8601 UTC time: a duration from now (``7d``) or a time, in the future.

    Raises:
        StateError: neither a duration nor a time, or not in the future.
    """
    start = at or datetime.now(UTC)
    if match := _DURATION.match(text.strip()):
        when = start + timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            when = parse_time(text.strip())
        except ValueError:
            raise StateError(f"--expires {text!r} is not a duration or a time", fix=_EXPIRY_FIX) from None
    if when <= start:
        raise StateError(f"--expires {text!r} is not in the future", fix=_EXPIRY_FIX)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Deviation(Record):
    """An override declared by a member (``aios deviation new``)."""

    reason: str = Field(min_length=1)
    tasks: list[TaskId] = Field(default_factory=list)
    """The tasks it covers."""
    paths: list[str] = Field(default_factory=list)
    """The paths it covers (folders end with ``/``)."""
    expires_at: str
    """When it stops covering anything (ISO 8601, UTC)."""
    resolved_by: str | None = None
    resolved_at: str | None = None
    resolution: str | None = None

    @field_validator("expires_at")
    @classmethod
    def _a_time(cls, value: str) -> str:
        try:
            parse_time(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time (2026-12-31T18:00:00Z)") from None
        return value

    @model_validator(mode="after")
    def _scoped(self) -> Self:
        if not self.tasks and not self.paths:
            raise ValueError("a deviation needs a scope: list the tasks or paths it covers")
        if (self.resolved_by is None) != (self.resolved_at is None):
            raise ValueError("a resolved deviation sets both resolved_by and resolved_at")
        return self

    def state(self, at: datetime | None = None) -> DeviationState:
        """``resolved``, else ``expired`` once ``expires_at`` has passed, else ``open``."""
        if self.resolved_by is not None:
            return DeviationState.RESOLVED
        if parse_time(self.expires_at) <= (at or datetime.now(UTC)):
            return DeviationState.EXPIRED
        return DeviationState.OPEN

    def covers(self, task_id: str) -> bool:
        return task_id in self.tasks


def new(
    ws: Workspace,
    *,
    reason: str,
    by: str,
    expires_at: str,
    tasks: list[str] | None = None,
    paths: list[str] | None = None,
    body: str = "",
) -> Deviation:
    """Write a new open deviation; returns it.

    Raises:
        StateError: no scope, or an expiry that is not a time (the model's message).
    """

    def make(rid: str) -> Deviation:
        return _frontmatter.validated(
            Deviation,
            {"id": rid, "at": now(), "by": by, "reason": reason, "tasks": tasks or [], "paths": paths or [],
             "expires_at": expires_at, "body": body},
        )  # fmt: skip

    record, _ = _frontmatter.create(ws.deviations_dir, PREFIX, make)
    return record


def all_deviations(ws: Workspace) -> list[Deviation]:
    """Every deviation, oldest first."""
    return _frontmatter.all_records(Deviation, ws.deviations_dir, PREFIX, rel=ws.rel)


def covering(ws: Workspace, task_id: str) -> list[Deviation]:
    """The unresolved deviations (open or expired) whose scope names ``task_id``."""
    return [d for d in all_deviations(ws) if d.covers(task_id) and d.resolved_by is None]


def get(ws: Workspace, record_id: str) -> Deviation:
    """One deviation by id.

    Raises:
        StateError: no such deviation, or its file is broken.
    """
    path = _path(ws, record_id)
    return _frontmatter.load(Deviation, path, rel=ws.rel(path))


def resolve(ws: Workspace, record_id: str, *, by: str, resolution: str) -> Deviation:
    """Mark a deviation resolved (under the state lock, re-read first).

    Raises:
        StateError: no such deviation, or it is resolved already.
    """
    path = _path(ws, record_id)
    with exclusive(ws.state_lock):
        deviation = _frontmatter.load(Deviation, path, rel=ws.rel(path))
        if deviation.resolved_by is not None:
            raise StateError(
                f"{record_id} was resolved by {deviation.resolved_by} at {deviation.resolved_at}",
                file=ws.rel(path),
                fix="nothing to do; declare a new deviation (`aios deviation new`) if one is needed again",
            )
        resolved = deviation.model_copy(
            update={"resolved_by": by, "resolved_at": now(), "resolution": resolution}
        )
        atomic_write(path, _frontmatter.render(resolved))
    return resolved


def problems(ws: Workspace) -> list[StateError]:
    """Each broken deviation record."""
    return _frontmatter.problems(Deviation, ws.deviations_dir, PREFIX, rel=ws.rel)


def _path(ws: Workspace, record_id: str) -> Path:
    path = _frontmatter.find(ws.deviations_dir, record_id)
    if path is None:
        raise StateError(
            f"no deviation {record_id}",
            fix="`aios deviation list` shows the deviations (ids look like DEV-0001)",
        )
    return path
