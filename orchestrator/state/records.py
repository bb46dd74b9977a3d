"""The records of ``state/``: a task's file with its events, and the index (queues, live tasks).

These are plain pydantic models; ``store`` reads and writes them under the state lock, ``audit``
renders their events, and every other module reads them. Of the state layer they import only
the lifecycle's statuses and the task id pattern, so nothing here can form an import circle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator import _yaml
from orchestrator.state.lifecycle import HOLDS_SLOT, Status
from orchestrator.state.taskcard import TASK_ID

#: A queue's emergency stop, as the index (and a member editing it by hand) spells it.
SYSTEM_LOCK = "SYSTEM_LOCK"
#: The actor of what a person changed by editing ``state/tasks.yaml`` by hand (a stop, a lock).
HAND_EDIT_ACTOR = "hand edit of state/tasks.yaml"


class EventKind(StrEnum):
    """What kind of event a governance action recorded; ordinary lifecycle moves and notes have none."""

    EMERGENCY_STOP = "emergency_stop"
    """A person stopped the task (``aios task stop``, or ``event: emergency_stop`` in a hand edit)."""
    HAND_EDIT = "hand_edit"
    """A hand edit of ``state/tasks.yaml`` (``status: blocked``), recorded by the next command."""
    VIOLATION = "violation"
    """A refused action, audited with the rule that refused it."""
    DISMISSAL = "dismissal"
    """A member dismissed a review finding (``aios review dismiss``): later rounds do not raise it."""
    DEVIATION = "deviation"
    """A deviation (an override of the policy, ``ops/deviations/``) declared, resolved or used for
    the task: the event names it, so the trail links the override."""
    ESCALATION = "escalation"
    """An escalation raised, moved up, answered or enforced (``aios escalate``, the matrix)."""
    REFILE = "refile"
    """The task was re-filed into another queue under a new id at triage (``aios task triage
    --queue``): the event names both ids, on both trails."""


def now() -> str:
    """The current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Event(BaseModel):
    """One step in a task's history. ``from == to`` marks a note (e.g. an artifact produced)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    seq: int = Field(ge=1)
    """Workspace-wide order of events, across tasks."""
    at: str
    actor: str = Field(min_length=1)
    from_: Status | None = Field(alias="from")
    to: Status
    reason: str | None = None
    artifacts: list[str] = Field(default_factory=list)
    session: str | None = None
    """The agent session it was taken in (``SES-...``); None for a person."""
    kind: EventKind | None = None
    """None for ordinary moves and notes; set for governance events (an emergency stop, ...)."""


class TaskState(BaseModel):
    """The contents of ``state/tasks/<TASK_ID>.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    id: str = Field(pattern=TASK_ID.pattern)
    title: str
    queue: str
    priority: int = 3
    role_mode: str = "builder"
    card: str
    """The TaskCard's path, relative to the workspace root."""
    status: Status
    blocked_from: Status | None = None
    created_at: str
    updated_at: str
    events: list[Event] = Field(default_factory=list)

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=False)
        for event in data["events"]:
            if not event["artifacts"]:
                del event["artifacts"]
            if event["session"] is None:
                del event["session"]
            if event["kind"] is None:  # task files stay as they were for ordinary events
                del event["kind"]
        return _yaml.dump(data, flow_leaves=True)


class IndexEntry(BaseModel):
    # Frozen: an index read again shares its entries with the last one (``state._index``), so a
    # change is a new entry, never an edit in place.
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Status
    queue: str
    priority: int = 3
    title: str = ""
    mtime: int = 0
    """``st_mtime_ns`` of the task file when indexed; a different value means a hand edit."""
    event: str | None = None
    """Hand edits only (never written by aios): ``emergency_stop`` beside ``status: blocked``."""
    reason: str | None = None
    """Hand edits only (never written by aios): why the task was set to ``blocked``."""


class QueueState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lock: Literal["SYSTEM_LOCK"] | None = None
    locked_by: str | None = None
    locked_at: str | None = None
    reason: str | None = None
    running: list[str] = Field(default_factory=list)
    """Informational: recomputed from ``tasks`` on every write."""


class Freeze(BaseModel):
    """A system freeze in force: every queue locked by the project owner (``aios freeze``)."""

    model_config = ConfigDict(extra="forbid")

    by: str
    at: str
    reason: str | None = None
    record: str
    """The freeze record, ``ops/freeze/FREEZE-<time>.md``, relative to the workspace root."""
    locked: list[str] = Field(default_factory=list)
    """The queues the freeze locked (those already locked stay locked when it is lifted)."""


class Index(BaseModel):
    """The contents of ``state/tasks.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    frozen: Freeze | None = None
    """Set while the system is frozen: no queue starts or runs anything until ``aios unfreeze``."""
    seq: int = 0
    next_number: dict[str, int] = Field(default_factory=dict)
    queues: dict[str, QueueState] = Field(default_factory=dict)
    tasks: dict[str, IndexEntry] = Field(default_factory=dict)

    @field_validator("queues", mode="before")
    @classmethod
    def _hand_written_locks(cls, value: Any) -> Any:
        # The operating model's emergency procedure writes `dev: SYSTEM_LOCK` by hand.
        if not isinstance(value, dict):
            return value
        return {name: _queue_shorthand(entry) for name, entry in value.items()}

    def running(self, queue: str) -> list[str]:
        """The queue's tasks that hold one of its slots, in id order."""
        return sorted([tid for tid, e in self.tasks.items() if e.status in HOLDS_SLOT and e.queue == queue])


def _queue_shorthand(entry: Any) -> Any:
    if entry is None:
        return {}
    if entry == SYSTEM_LOCK:
        return {"lock": SYSTEM_LOCK}
    return entry
