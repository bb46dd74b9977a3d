"""What a run's nodes get: the plain-data ``RunSpec`` the graph is invoked with, and the
``RunContext`` of Python objects built from it inside the process that runs the nodes.

LangGraph Server stores a run's context and shows it, and cannot build Python objects for it,
so the graph's context is data (``RunSpec``): the workspace, the task, the modes, the model
strings, the sessions' ids, where the run guard starts. ``wiring.resolve`` turns it into a
``RunContext`` once per process per spec; ``aios review run`` invokes the same graph with the
same spec, so one graph runs in-process and on the server. Nothing secret goes in a spec: keys
stay in the environment of the process that calls the models, session tokens with their owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from orchestrator.governance.guard import RunGuard
from orchestrator.review.findings import Dimension
from orchestrator.review.round import CheckResult
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.checkpoint import ReviewState
from orchestrator.workflow.settings import WorkflowSettings

BUILDER, REVIEWER = "agent:builder", "agent:reviewer"
#: The actors a run moves its task as, besides the person whose decision it carries out.
RUN_ACTORS = (BUILDER, REVIEWER)


class RunSpec(TypedDict):
    """One invocation of the graph as plain JSON data: the graph's context (``context_schema``)."""

    root: str
    """The workspace's root folder (the server reads and writes the same one)."""
    task_id: str
    builder_mode: str
    reviewer_mode: str
    model: str | None
    """``--model`` (a model for every role, or ``role=model[,...]``); None: the usual choice."""
    base_url: str | None
    """An OpenAI-compatible server, without credentials."""
    record: str | None
    sandbox: bool
    sessions: dict[str, str]
    """The ids of the sessions the run's agents act in, by actor; never their tokens."""
    guard_seq: int
    """The task's last event when the invocation began: later moves by others stop the run."""
    resume: str | None
    """The command that goes on from the checkpoint, for a stopped run's fix."""
    invocation: str
    """A random id: each invocation gets its own ``RunContext`` (a fresh guard and sessions)."""


@dataclass
class RunContext:
    """What the nodes need for one run; never checkpointed (a resumed run passes a fresh one)."""

    ws: Workspace
    card: TaskCard
    workflow: WorkflowSettings
    builder: Callable[[RunContext, ReviewState], str | None]
    """Makes the round's change in the worktree; returns a summary (None: reviews what is there)."""
    check: Callable[[RunContext, ReviewState, Dimension], CheckResult]
    """Runs one dimension's check."""
    aggregate: Callable[[RunContext, ReviewState, list[CheckResult]], dict[str, Any]]
    """Decides the round from the checks: ``verdict``, ``reasons``, ``findings`` (``Finding``s),
    ``feedback``, and optionally ``report``, ``usage`` and ``usage_total``."""
    external: bool = False
    """The builder is a person or another agent: revisions wait for them to submit again."""
    progress: Callable[[str], None] = field(default=lambda message: None)
    sessions: dict[str, Session] = field(default_factory=dict)
    """The sessions the run's own agents act in, by actor (``agent:builder``, ``agent:reviewer``)."""

    def session_of(self, actor: str) -> Session | None:
        """The run's session for one of its own agents; None for a person."""
        return self.sessions.get(actor)

    guard: RunGuard | None = None
    """Stops the run at its next step when a person stopped it (a freeze, a lock, a stop); None:
    one begun for the task as the context is made, i.e. just before the graph is invoked."""

    def __post_init__(self) -> None:
        if self.guard is None:
            self.guard = RunGuard.begin(self.ws, self.card.id, own=RUN_ACTORS)

    def go_on(self, doing: str) -> None:
        """Raise ``RunStopped`` unless the run may go on ``doing`` (``RunGuard.check``)."""
        assert self.guard is not None  # set by __post_init__
        self.guard.check(doing)
