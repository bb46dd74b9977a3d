"""Escalations: the matrix (``workflows/escalation.yaml``) and the open ones (``state/escalations.yaml``).

The matrix says, for each kind of problem, which authority level answers first, how long it has
(``answer_within``), who answers next, and what the matrix does by itself at the end (a freeze,
terminating an agent's session). An escalation copies its route from the matrix when it is opened,
so editing the file changes the escalations opened after the edit, not those already running, and
the check at each command's start (`overdue`) reads only ``state/escalations.yaml``::

    schema_version: 1
    escalations:
    - id: ESC-0001
      task_id: TASK_DEV_0001
      type: security
      steps: [{level: platform, answer_within: 1h}, {level: owner, answer_within: 2h}, {action: freeze}]
      step: 0
      due_at: '2026-12-06T10:00:00Z'
      ...

Who may escalate or answer, and moving up, is the governance layer's (``governance.escalations``);
this module validates, reads and writes the files under the state lock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator import _yaml, resources
from orchestrator._files import read_text
from orchestrator._lock import exclusive
from orchestrator.errors import ConfigError, PermissionDenied
from orchestrator.state import _roster
from orchestrator.state.audit import check_actor
from orchestrator.state.project import ROLES, Level
from orchestrator.state.records import EventKind, TaskState
from orchestrator.state.sessions import parse_time, parse_ttl
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace

MATRIX_FILE = "escalation.yaml"
ESCALATION_ID = re.compile(r"^ESC-(\d{4,})$")
#: The actor of what the matrix does by itself (moving up, a freeze, terminating a session).
MATRIX_ACTOR = "aios escalation matrix"


class EscalationType(StrEnum):
    """The operating model's four kinds of problem (§6.1)."""

    BLOCKED = "blocked"
    SPEC_CONFLICT = "spec-conflict"
    SECURITY = "security"
    AGENT_MISBEHAVIOR = "agent-misbehavior"


class FinalAction(StrEnum):
    """What the matrix does by itself when no level answered."""

    FREEZE = "freeze"
    TERMINATE_SESSION = "terminate-session"


class Step(BaseModel):
    """One rung: a level with its time to answer, or (last only) the matrix's own action."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["owner", "platform", "lead", "operator"] | None = None
    """The role that answers (``ROLES``: owner L0 ... operator L3)."""
    answer_within: str | None = None
    """How long the level has before the escalation moves up: ``30m``, ``4h``, ``2d``."""
    action: FinalAction | None = None

    @field_validator("answer_within")
    @classmethod
    def _duration(cls, text: str | None) -> str | None:
        if text is not None:
            parse_ttl(text)  # raises ValueError with the shapes it accepts
        return text

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if (self.level is None) == (self.action is None):
            raise ValueError("a step is either `level:` with `answer_within:`, or `action:` (the last step)")
        if self.level is not None and self.answer_within is None:
            raise ValueError(f"the {self.level} step needs `answer_within:` (e.g. 4h)")
        if self.action is not None and self.answer_within is not None:
            raise ValueError("an action step is taken at once: remove `answer_within:`")
        return self

    @property
    def authority(self) -> Level:
        assert self.level is not None
        return ROLES[self.level]

    @property
    def within(self) -> timedelta:
        assert self.answer_within is not None
        return parse_ttl(self.answer_within)


class Route(BaseModel):
    """One kind of problem's steps, first responder first."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _actions_last(cls, steps: list[Step]) -> list[Step]:
        if steps[0].action is not None:
            raise ValueError("the first step must be a level: somebody answers before the matrix acts")
        if any(s.action is not None for s in steps[:-1]):
            raise ValueError("only the last step may be an `action:`")
        return steps


class Matrix(BaseModel):
    """``workflows/escalation.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    types: dict[EscalationType, Route]

    @field_validator("types")
    @classmethod
    def _every_type(cls, types: dict[EscalationType, Route]) -> dict[EscalationType, Route]:
        missing = [t.value for t in EscalationType if t not in types]
        if missing:
            raise ValueError(
                f"no route for {', '.join(missing)}: each of {', '.join(EscalationType)} needs one"
            )
        return types


def load_matrix(workspace: Path | None = None) -> Matrix:
    """The matrix a workspace sees: its own ``workflows/escalation.yaml``, else the shipped one.

    Raises:
        ConfigError: not YAML, an unknown key, a bad level or duration (file, line, field, fix).
    """
    path = resources.data_file("workflows", MATRIX_FILE, workspace=workspace)
    text = read_text(path, error=ConfigError)
    return _yaml.validate(Matrix, _yaml.load(text, file=path) or {}, file=path, text=text)


# ---- state/escalations.yaml ----


class EscalationState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ENFORCED = "enforced"
    """Nobody answered: the matrix took its final action (a freeze, a session terminated)."""


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ESCALATION_ID.pattern)
    task_id: str
    type: EscalationType
    reason: str
    raised_by: str
    raised_at: str
    session_id: str | None = None
    """agent-misbehavior: the session the last step terminates."""
    agent_id: str | None = None
    """agent-misbehavior: the agent whose live sessions the last step terminates."""
    steps: list[Step]
    """The route, copied from the matrix when it was opened."""
    step: int = Field(default=0, ge=0)
    """The step it is at (index into ``steps``)."""
    due_at: str | None = None
    """When the current step's time runs out; None once nothing more happens by itself."""
    state: EscalationState = EscalationState.OPEN
    answered_by: str | None = None
    answered_at: str | None = None
    note: str | None = None
    action_taken: str | None = None

    @property
    def current(self) -> Step:
        return self.steps[min(self.step, len(self.steps) - 1)]


class EscalationsFile(BaseModel):
    """The contents of ``state/escalations.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    escalations: list[Escalation] = Field(default_factory=list)

    def by_id(self, escalation_id: str) -> Escalation | None:
        return next((e for e in self.escalations if e.id == escalation_id), None)

    def new_id(self) -> str:
        numbers = [int(m[1]) for e in self.escalations if (m := ESCALATION_ID.match(e.id))]
        return f"ESC-{max(numbers, default=0) + 1:04d}"


_HEADER = """\
# Escalations (aios escalate, aios escalation list|answer). Each copies its route from
# workflows/escalation.yaml; an open one past its due_at moves up when the next aios command runs.
"""


def clock() -> datetime:
    """Now, in UTC (tests replace it to let time pass)."""
    return datetime.now(UTC)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def load(ws: Workspace) -> EscalationsFile:
    """Read and validate ``state/escalations.yaml`` (none yet: no escalations)."""
    return _roster.load(ws, ws.escalations_file, EscalationsFile)


@contextmanager
def editing(ws: Workspace) -> Iterator[EscalationsFile]:
    """The escalations under the state lock, written back when the block ends without error."""
    with exclusive(ws.state_lock):
        roster = load(ws)
        yield roster
        _roster.save(ws.escalations_file, _HEADER, roster)


_DUE = re.compile(r"^\s*due_at:\s*'?\"?([0-9T:.Z+-]+)", re.MULTILINE)


def overdue(ws: Workspace, at: datetime | None = None) -> bool:
    """Whether an open escalation's time has run out: the cheap check every command starts with.

    Only ``due_at`` lines are looked at (no YAML parse, no validation): most commands find no file
    or nothing due. A closed escalation has no ``due_at``.
    """
    try:
        text = ws.escalations_file.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, UnicodeDecodeError):
        return True  # unreadable: let the full read say what is wrong
    now = at or clock()
    for match in _DUE.finditer(text):
        try:
            if parse_time(match[1]) <= now:
                return True
        except ValueError:
            return True
    return False


def require_final_action(ws: Workspace, escalation_id: str, action: FinalAction) -> Escalation:
    """Refuse unless ``escalation_id`` is open and at its last step, ``action``: the matrix, not a
    member's level, then authorises the freeze or the termination.

    Raises:
        PermissionDenied: no such escalation, or it is not at that step.
    """
    found = load(ws).by_id(escalation_id)
    if found is None or found.state is not EscalationState.OPEN or found.current.action is not action:
        raise PermissionDenied(
            f"escalation {escalation_id} is not open at its `{action.value}` step",
            rule="escalation",
            fix="only an escalation nobody answered takes its last step; `aios escalation list` shows them",
        )
    return found


def record_event(
    ws: Workspace, task_id: str, *, actor: str, text: str, session: str | None = None
) -> TaskState:
    """An escalation event (a note of kind ``escalation``) on the task's audit trail."""
    check_actor(actor)
    with open_store(ws).transaction() as txn:
        task = txn.task(task_id)
        txn.record(task, actor=actor, to=task.status, reason=text, session=session, kind=EventKind.ESCALATION)
    return task
