"""The task lifecycle: statuses, the actions that move between them, and which hold a queue slot.

    inbox ─approve─► ready ─start─► running ─submit─► code_review ─finish─► reviewing ─merge─► done
                                      ▲  └──────────finish──────────────────────▲        │
                                      └───────── revise (from code_review) ──────┘        │
                                      └───────── reject (from reviewing) ─────────────────┘
    block: any active status ─► blocked;  unblock: blocked ─► the status it was blocked from

This module is pure: it decides, the task service applies. It also holds the routes the workflow
takes to bring a task to a status (``step``, ``path``).
"""

from __future__ import annotations

from enum import StrEnum

from orchestrator.errors import TransitionError


class Status(StrEnum):
    INBOX = "inbox"
    READY = "ready"
    RUNNING = "running"
    CODE_REVIEW = "code_review"
    REVIEWING = "reviewing"
    DONE = "done"
    BLOCKED = "blocked"


ACTIVE = (Status.INBOX, Status.READY, Status.RUNNING, Status.CODE_REVIEW, Status.REVIEWING)
#: Statuses that occupy one of the queue's concurrent slots.
HOLDS_SLOT = frozenset({Status.RUNNING, Status.CODE_REVIEW})

#: action -> {from status: to status}. ``unblock`` is resolved from the task's ``blocked_from``.
ACTIONS: dict[str, dict[Status, Status]] = {
    "approve": {Status.INBOX: Status.READY},
    "start": {Status.READY: Status.RUNNING},
    "submit": {Status.RUNNING: Status.CODE_REVIEW},
    "revise": {Status.CODE_REVIEW: Status.RUNNING},
    "finish": {Status.RUNNING: Status.REVIEWING, Status.CODE_REVIEW: Status.REVIEWING},
    "reject": {Status.REVIEWING: Status.RUNNING},
    "merge": {Status.REVIEWING: Status.DONE},
    "block": {status: Status.BLOCKED for status in ACTIVE},
    "unblock": {},
}


def allowed_actions(status: Status) -> list[str]:
    """The actions possible from ``status``, in lifecycle order."""
    if status is Status.BLOCKED:
        return ["unblock"]
    return [action for action, moves in ACTIONS.items() if status in moves]


def target(action: str, status: Status, *, task_id: str, blocked_from: Status | None = None) -> Status:
    """The status ``action`` leads to from ``status``.

    Raises:
        TransitionError: the action is not allowed from ``status``; the message lists what is.
    """
    if action == "unblock" and status is Status.BLOCKED:
        return blocked_from or Status.READY
    moves = ACTIONS.get(action, {})
    if status in moves:
        return moves[status]
    allowed = allowed_actions(status)
    raise TransitionError(
        f"cannot {action} {task_id}: it is {status.value}",
        fix=(
            f"from {status.value} the allowed actions are: {', '.join(allowed)}"
            if allowed
            else f"{task_id} is {status.value}; no further action is possible"
        ),
    )


def takes_slot(before: Status, after: Status) -> bool:
    """Whether moving ``before`` → ``after`` needs a free slot in the task's queue."""
    return after in HOLDS_SLOT and before not in HOLDS_SLOT


# ---- routes the workflow takes ----

#: To bring a task to the outer key's status from the inner key's status, take the action.
#: Only the moves the workflow makes by itself: e.g. nothing leads out of ``ready`` or ``inbox``,
#: which need a person's ``approve`` or ``start``.
_ROUTES: dict[Status, dict[Status, str]] = {
    Status.RUNNING: {Status.CODE_REVIEW: "revise", Status.REVIEWING: "reject", Status.BLOCKED: "unblock"},
    Status.CODE_REVIEW: {Status.RUNNING: "submit", Status.BLOCKED: "unblock"},
    Status.REVIEWING: {Status.CODE_REVIEW: "finish", Status.RUNNING: "finish", Status.BLOCKED: "unblock"},
    Status.DONE: {
        Status.REVIEWING: "merge",
        Status.CODE_REVIEW: "finish",
        Status.RUNNING: "finish",
        Status.BLOCKED: "unblock",
    },
    Status.BLOCKED: {s: "block" for s in (Status.RUNNING, Status.CODE_REVIEW, Status.REVIEWING)},
}


def step(current: Status, want: Status) -> str | None:
    """The action that moves a task at ``current`` one step towards ``want``; None when there is none.

    Example:
        >>> step(Status.RUNNING, Status.DONE)
        'finish'
    """
    return _ROUTES.get(want, {}).get(current)


def path(start: Status, want: Status, *, task_id: str, blocked_from: Status | None = None) -> list[str]:
    """The actions, in order, that bring task ``task_id`` from ``start`` to ``want`` (none when there).

    ``blocked_from`` is where ``unblock`` leads from ``blocked`` (``ready`` when unknown).

    Raises:
        TransitionError: no route leads on from a status on the way.

    Example:
        >>> path(Status.CODE_REVIEW, Status.DONE, task_id="TASK_DEV_0001")
        ['finish', 'merge']
    """
    actions: list[str] = []
    status = start
    while status is not want:
        action = step(status, want)
        if action is None or len(actions) > len(Status):  # the count ends a loop a hand edit made
            raise no_route(task_id, status, want)
        actions.append(action)
        status = target(action, status, task_id=task_id, blocked_from=blocked_from)
    return actions


def no_route(task_id: str, status: Status, want: Status) -> TransitionError:
    """The error for a task at ``status`` that the workflow cannot bring to ``want``."""
    return TransitionError(
        f"{task_id} is {status.value}; the workflow cannot move it to {want.value}",
        fix=f"check it with `aios task status {task_id}`",
    )
