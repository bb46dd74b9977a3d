"""The tools' structured results: the keys of the matching CLI command's ``--json`` output.

A result adds a key only where MCP needs more than the CLI prints: ``worktree`` (where the agent
writes its change) and ``summary`` (one sentence an agent can act on).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.workflow.scope import PathsCheck
from orchestrator.workflow.status import RunStatus


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AgentRequested(_Result):
    """``aios agent register --json`` keys, and the state: ``pending`` until a member approves it."""

    agent_id: str
    state: str
    next: str
    """What happens next: a member approves the agent, then it opens a session."""
    agent_key: str
    """Shown once, never stored (only its hash): ``session_create`` takes it as ``agent_key``."""


class SessionOpened(_Result):
    """``aios session create --json`` keys (``session_id``, ``token``, ``expires_at``), then the grant."""

    session_id: str
    token: str
    """Shown only now: pass it as ``session_token`` to every other tool. Stored only as a hash."""
    expires_at: str
    agent_id: str
    role_mode: str
    task_scope: list[str]


class SessionEnded(_Result):
    """``aios session terminate --json`` keys."""

    session_id: str
    state: str


class TaskCreated(_Result):
    """``aios task new --json`` keys."""

    id: str
    status: str
    card: str


class TaskMoved(_Result):
    """``aios task start|finish --json`` keys, and where the task's code is written."""

    id: str
    status: str
    from_: str = Field(alias="from")
    worktree: str | None = None
    """The task's git worktree (absolute): write the change there and commit it on ``branch``."""
    branch: str | None = None


class ReviewReply(RunStatus):
    """``aios review submit|status --json`` keys (a ``RunStatus``), then the worktree and a summary."""

    worktree: str | None = None
    summary: str


class ReviewReport(_Result):
    """The latest review round's report: its fields (``ops/reviews/<ID>/round-N.json``) and its text."""

    task: str
    round: int
    verdict: str
    file: str
    markdown: str
    report: dict[str, object]


class GovernanceCheck(_Result):
    """May this session take ``action`` (on ``task_id``)? And do ``paths`` fit the task?"""

    action: str
    task_id: str | None
    allowed: bool
    """The action is allowed, and every path (when given) fits the task."""
    rule: str | None = None
    """The governance rule that refuses the action (``role-mode``, ``task-scope``, ``session``, ...)."""
    reason: str | None = None
    fix: str | None = None
    paths: PathsCheck | None = None
