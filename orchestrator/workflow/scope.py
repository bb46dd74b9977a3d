"""Whether a change's paths fit its task: inside the TaskCard's ``paths``, outside the governance canon.

The same two rules the run applies to a change (the builder's ``in_scope``, the review's
``governance-canon`` evidence), asked before the work is submitted: an agent working over MCP
checks its list of changed files here (``governance_check``) instead of finding out in review.
"""

from __future__ import annotations

import posixpath

from pydantic import BaseModel, ConfigDict

from orchestrator.review.evidence.canon import GOVERNANCE_QUEUE, is_canon
from orchestrator.state.records import TaskState
from orchestrator.state.taskcard import TaskCard


class PathVerdict(BaseModel):
    """One changed path and what the task's rules say about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    in_scope: bool
    """Inside the TaskCard's ``paths`` (every path is, when the card lists none)."""
    canon: bool
    """A governance file (``state/``, ``ops/``, ``workflows/``, ... or the task's own card)."""
    allowed: bool
    """In scope, and canon only for a task in the governance queue."""


class PathsCheck(BaseModel):
    """A list of changed paths checked against one task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    allowed: bool
    paths: list[PathVerdict]
    problems: list[str]
    """One sentence per refused path, saying which rule refuses it and what to do."""


def check_paths(task: TaskState, card: TaskCard, paths: list[str]) -> PathsCheck:
    """Check ``paths`` (relative to the worktree) against ``card``'s paths and the canon."""
    from orchestrator.workflow.builder import in_scope

    governance = task.queue == GOVERNANCE_QUEUE
    verdicts, problems = [], []
    for raw in paths:
        rel = posixpath.normpath(raw.strip())  # `src/../state/x` is `state/x`, not a path under src/
        inside = not (rel.startswith(("/", "../")) or rel == "..")
        scoped, canon = inside and in_scope(rel, card.paths), is_canon(rel, card_path=task.card)
        ok = scoped and (governance or not canon)
        verdicts.append(PathVerdict(path=rel, in_scope=scoped, canon=canon, allowed=ok))
        if not scoped:
            where = f"the TaskCard's paths ({', '.join(card.paths)})" if inside else "the worktree"
            problems.append(f"{rel}: outside {where}; leave it out")
        elif canon and not governance:
            problems.append(
                f"{rel}: a governance file (governance-canon); it changes only through a "
                f"{GOVERNANCE_QUEUE}-queue task"
            )
    return PathsCheck(task=task.id, allowed=not problems, paths=verdicts, problems=problems)
