"""The decision log: ``ops/decision-log/<date>-DEC-NNNN.md``, one record per governance decision.

The weekly governance review reads these (the operating model, 3.1). A decision may name the tasks
it concerns; the governance layer then notes it on each task's audit trail.
"""

from __future__ import annotations

from pydantic import Field

from orchestrator.errors import StateError
from orchestrator.state import _frontmatter
from orchestrator.state._frontmatter import Record, TaskId
from orchestrator.state.records import now
from orchestrator.state.workspace import Workspace

PREFIX = "DEC"


class Decision(Record):
    """A decision recorded in the log (``aios decision new``)."""

    title: str = Field(min_length=1, max_length=200)
    tasks: list[TaskId] = Field(default_factory=list)
    """Task ids the decision concerns (each gets a note on its audit trail)."""


def new(ws: Workspace, *, title: str, by: str, body: str = "", tasks: list[str] | None = None) -> Decision:
    """Write a new decision record; returns it."""
    record, _ = _frontmatter.create(
        ws.decisions_dir,
        PREFIX,
        lambda rid: _frontmatter.validated(
            Decision, {"id": rid, "at": now(), "by": by, "title": title, "body": body, "tasks": tasks or []}
        ),
    )
    return record


def all_decisions(ws: Workspace) -> list[Decision]:
    """Every decision, oldest first."""
    return _frontmatter.all_records(Decision, ws.decisions_dir, PREFIX, rel=ws.rel)


def get(ws: Workspace, record_id: str) -> Decision:
    """One decision by id.

    Raises:
        StateError: no such decision, or its file is broken.
    """
    path = _frontmatter.find(ws.decisions_dir, record_id)
    if path is None:
        raise StateError(
            f"no decision {record_id}",
            fix="`aios decision list` shows the decisions (ids look like DEC-0001)",
        )
    return _frontmatter.load(Decision, path, rel=ws.rel(path))


def problems(ws: Workspace) -> list[StateError]:
    """Each broken decision record."""
    return _frontmatter.problems(Decision, ws.decisions_dir, PREFIX, rel=ws.rel)
