"""Deviations as governed actions: declaring and resolving an override, and the override merge.

A deviation (``ops/deviations/``) is an L2 override: a member at L2 or higher (L1 for a task in the
governance queue) declares it with a reason, a scope (task ids, paths) and an expiry. Each task in
its scope gets an event of kind ``deviation`` naming it, so the task's trail links the override.

Merging a change the review policy did not approve (a BLOCKED round, or review rounds used up,
answered at the escalation) is an override: ``override_for_merge`` requires an open deviation
covering the task, named by the approver (``--deviation DEV-0001``), or declares one from the
approver's reason (``--override-reason``). Without one the merge is refused, and the refusal is
audited on the task's trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator._text import visible
from orchestrator.errors import PermissionDenied
from orchestrator.governance.authority import audited, decide
from orchestrator.governance.matrix import Op
from orchestrator.state import deviations, tasks
from orchestrator.state.audit import actor_kind, append_governance
from orchestrator.state.deviations import Deviation, DeviationState
from orchestrator.state.records import EventKind
from orchestrator.state.sessions import Session
from orchestrator.state.stores import task_exists
from orchestrator.state.workspace import Workspace

#: How long a deviation declared at a merge (``--override-reason`` without ``--expires``) lasts:
#: until the weekly governance review after next has seen it.
MERGE_OVERRIDE_TTL = "14d"


@dataclass(frozen=True)
class Override:
    """How an approver covers a merge the policy did not approve: an existing deviation, or a new one."""

    deviation: str | None = None
    """An open deviation's id (``DEV-0001``) whose scope names the task."""
    reason: str | None = None
    """Declare a new deviation for the task with this reason."""
    expires: str = MERGE_OVERRIDE_TTL
    """The new deviation's expiry (``7d``, ``2026-12-31``)."""


def declare(
    ws: Workspace,
    *,
    reason: str,
    actor: str,
    expires: str,
    task_ids: list[str] | None = None,
    paths: list[str] | None = None,
    body: str = "",
    session: Session | None = None,
) -> Deviation:
    """Declare a deviation; each task in its scope gets a ``deviation`` event naming it.

    Raises:
        PermissionDenied: the actor lacks the authority for a task in scope (L2; L1 in governance).
        StateError: an unknown task, no scope, or a bad expiry.
    """
    task_ids = task_ids or []
    scoped = [tasks.get(ws, tid) for tid in task_ids]
    with audited(ws, actor=actor, what="declare a deviation", task_id=task_ids[0] if task_ids else None,
                 session=session):  # fmt: skip
        for task in scoped or [None]:
            decide(ws, Op.DEVIATE, actor=actor, session=session, task=task)
    when = deviations.expiry(expires)
    deviation = deviations.new(
        ws, reason=reason, by=actor, expires_at=when, tasks=task_ids, paths=paths, body=body
    )
    for tid in task_ids:
        tasks.note(
            ws, tid, actor=actor, kind=EventKind.DEVIATION,
            reason=f"deviation {deviation.id} declared, expires {when}: {reason}",
        )  # fmt: skip
    _log(ws, actor, f"deviation {deviation.id} declared for {_scope(deviation)}, expires {when}: {reason}")
    return deviation


def resolve(
    ws: Workspace, deviation_id: str, *, resolution: str, actor: str, session: Session | None = None
) -> Deviation:
    """Resolve a deviation (it covers nothing any more); its tasks' trails say so.

    Raises:
        PermissionDenied: the actor lacks the authority for a task in its scope.
        StateError: no such deviation, or it is resolved already.
    """
    deviation = deviations.get(ws, deviation_id)
    scoped = [tasks.get(ws, tid) for tid in deviation.tasks if task_exists(ws, tid)]
    first = scoped[0].id if scoped else None
    with audited(ws, actor=actor, what=f"resolve deviation {deviation_id}", task_id=first, session=session):
        for task in scoped or [None]:
            decide(ws, Op.DEVIATE, actor=actor, session=session, task=task)
    resolved = deviations.resolve(ws, deviation_id, by=actor, resolution=resolution)
    for task in scoped:
        tasks.note(ws, task.id, actor=actor, kind=EventKind.DEVIATION,
                   reason=f"deviation {deviation_id} resolved: {resolution}")  # fmt: skip
    _log(ws, actor, f"deviation {deviation_id} resolved: {resolution}")
    return resolved


def override_for_merge(
    ws: Workspace, tid: str, *, verdict: str | None, override: Override | None, actor: str
) -> Deviation:
    """The deviation that covers merging ``tid`` over the review's ``verdict``, or a refusal.

    Raises:
        PermissionDenied: none named or declared (``rule="deviation"``); the one named is not open
            or does not cover the task; the actor may not declare one. Audited on the task's trail.
    """
    shown = verdict or "no approved review round"
    with audited(ws, actor=actor, what=f"override merge of {tid}", task_id=tid):
        if override is None or (override.deviation is None and not (override.reason or "").strip()):
            raise PermissionDenied(
                f"{tid}'s review did not approve it ({shown}): merging it anyway overrides the review "
                "policy, which needs a deviation covering the task",
                rule="deviation",
                fix=f'declare one as you approve: `aios review approve {tid} --override-reason "..."`, or '
                f"name an open one whose scope lists {tid}: `aios review approve {tid} --deviation DEV-NNNN`",
            )
        if override.deviation is not None:
            return _usable(ws, tid, override.deviation)
    assert override.reason is not None
    return declare(ws, reason=override.reason, actor=actor, expires=override.expires, task_ids=[tid])


def _usable(ws: Workspace, tid: str, deviation_id: str) -> Deviation:
    deviation = deviations.get(ws, deviation_id)
    state = deviation.state()
    if state is not DeviationState.OPEN:
        when = deviation.resolved_at if state is DeviationState.RESOLVED else deviation.expires_at
        raise PermissionDenied(
            f"deviation {deviation_id} is {state.value} (since {when}), so it covers nothing",
            rule="deviation",
            fix=f'declare a new one: `aios review approve {tid} --override-reason "..."`',
        )
    if not deviation.covers(tid):
        raise PermissionDenied(
            f"deviation {deviation_id} covers {_scope(deviation)}, not {tid}",
            rule="deviation",
            fix=f'declare one for {tid}: `aios review approve {tid} --override-reason "..."`',
        )
    return deviation


def record_use(ws: Workspace, tid: str, deviation: Deviation, *, actor: str, verdict: str | None) -> None:
    """The task's trail names the deviation a merge over the review's verdict goes ahead under."""
    tasks.note(
        ws, tid, actor=actor, kind=EventKind.DEVIATION,
        reason=f"override merge approved under deviation {deviation.id} (review verdict {verdict or 'none'})",
    )  # fmt: skip


def _scope(deviation: Deviation) -> str:
    return ", ".join([*deviation.tasks, *deviation.paths])


def _log(ws: Workspace, actor: str, text: str) -> None:
    append_governance(ws, f"{visible(actor)} ({actor_kind(actor)}) · {text}")
