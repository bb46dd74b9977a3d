"""The run guard: a running workflow stops at its next step when a person has stopped it.

The workflow asks ``RunGuard.check`` before each node's side effects and before each model call,
commit and merge; its own moves of the task pass ``RunGuard.before_move`` to the task service,
which calls it under the state lock, so nothing the run does after a person acted undoes it.
The run stops (``RunStopped``) when:

- the system is frozen (``aios freeze``) or the task's queue is locked (``aios queue lock``, or
  ``SYSTEM_LOCK`` written by hand in ``state/tasks.yaml``);
- the task is blocked by someone other than the run itself (``aios task stop``, ``aios task
  block``, ``status: blocked`` written by hand);
- anyone but the run moved the task since this invocation of the graph began, or since the
  run's own last move: the person's decision stands;
- a session the run's agents act under ended (terminated by command or by hand, expired).

Each check reads the index's locks and the task file (about 0.5 ms; no lock unless a hand edit of
the index is waiting to be recorded). A stopped run leaves its checkpoint where it was, so the same
``aios review run`` resumes it once the freeze, lock or block is lifted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from orchestrator.errors import PermissionDenied, RunStopped
from orchestrator.governance.authority import current_session
from orchestrator.state import queues
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, EventKind, Index, TaskState
from orchestrator.state.sessions import Session
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace


def _no_sessions(doing: str) -> None:
    """A run that acts under no agent session (its agents' sessions are ``watch``-ed when it has them)."""


class RunGuard:
    """Stops one invocation of a task's workflow when a person has stopped it.

    Args:
        ws: the workspace.
        task_id: the task the run works on.
        own: the actors the run moves the task as (its agents, and the person whose decision it
            carries out), whose blocks are the run's own (an escalation).
        last_seq: the task's last event when the invocation began; later moves by anyone but
            the run stop it.
        resume: the command that goes on from the checkpoint, for the fix.
    """

    def __init__(
        self, ws: Workspace, task_id: str, *, own: Iterable[str], last_seq: int, resume: str | None = None
    ) -> None:
        self.ws, self.task_id = ws, task_id
        self.own = frozenset(own)
        self.last_seq = last_seq
        self.resume = resume or f"`aios review run {task_id}` resumes from the checkpoint"
        self.sessions_live: Callable[[str], None] = _no_sessions
        """Raises ``RunStopped`` when a session the run acts under is no longer live (``watch``)."""

    @classmethod
    def begin(cls, ws: Workspace, task_id: str, *, own: Iterable[str], resume: str | None = None) -> RunGuard:
        """A guard for an invocation starting now: moves recorded from here on by others stop it."""
        task = open_store(ws).read_task(task_id)
        return cls(ws, task_id, own=own, last_seq=_last_seq(task.events), resume=resume)

    def watch(self, sessions: Iterable[Session]) -> None:
        """Stop the run once a session it acts under ends: terminated by command or by a hand edit
        of ``state/sessions.yaml``, expired, or its agent revoked."""
        held = list(sessions)

        def live(doing: str) -> None:
            for session in held:
                try:
                    current_session(self.ws, session)
                except PermissionDenied as exc:
                    raise RunStopped(
                        f"{self.task_id}'s run stopped before it could {doing}: {exc.message}",
                        fix=f"{self.resume}, under new sessions",
                    ) from None

        self.sessions_live = live

    def check(self, doing: str) -> None:
        """Refuse to go on ``doing`` (``commit round 2``, ``call the builder model``) if stopped.

        Raises:
            RunStopped: saying who stopped the run and why, and how to go on.
        """
        self.sessions_live(doing)
        store = open_store(self.ws)
        index = store.read_locks()  # records a hand edit of the index first: a stop written by hand
        self.inspect(index, store.read_task(self.task_id), doing=doing)

    def before_move(self, index: Index, task: TaskState) -> None:
        """``tasks.MoveCheck``: the same check, under the state lock, just before the run moves the task."""
        self.inspect(index, task, doing=f"move {task.id} on")

    def moved(self, task: TaskState) -> None:
        """After the run's own move: the events up to now are accounted for."""
        self.last_seq = max(self.last_seq, _last_seq(task.events))

    def inspect(self, index: Index, task: TaskState, *, doing: str) -> None:
        """Raise ``RunStopped`` if ``index`` and ``task`` say the run must stop."""
        tid, verb = task.id, f"{task.id}'s run stopped before it could {doing}"
        if index.frozen is not None:
            raise RunStopped(
                f"{verb}: {queues.frozen_text(index.frozen)}",
                fix=f"{queues.UNFREEZE_FIX}; then {self.resume}",
            )
        lock = index.queues.get(task.queue)
        if lock is not None and lock.lock:
            raise RunStopped(
                f"{verb}: queue {task.queue} is {queues.locked_text(lock)}",
                fix=f"an L1 platform engineer or the owner runs `aios queue unlock {task.queue}`; "
                f"then {self.resume}",
            )
        if task.status is Status.BLOCKED and (stop := _holder(task.events)) and stop.actor not in self.own:
            raise RunStopped(
                f"{verb}: {tid} was {_stopped(stop)} by {stop.actor}{_why(stop)}",
                fix=f"a member unblocks it with `aios task unblock {tid}`; then {self.resume}",
            )
        moved = [e for e in task.events if e.seq > self.last_seq and _is_move(e)]
        if moved:
            event = moved[0]
            raise RunStopped(
                f"{verb}: {event.actor} moved {tid} from {_shown(event.from_)} to {event.to.value} while the "
                f"run was going{_why(event)}, and that decision stands",
                fix=f"check it with `aios task status {tid}`; then {self.resume}",
            )


def _last_seq(events: list[Event]) -> int:
    return max((e.seq for e in events), default=0)


def _is_move(event: Event) -> bool:
    return event.from_ is not event.to or event.kind is EventKind.EMERGENCY_STOP


def _holder(events: list[Event]) -> Event | None:
    """The event that blocked the task (or stopped it since): its actor holds the block."""
    for event in reversed(events):
        if event.to is Status.BLOCKED and _is_move(event):
            return event
    return None


def _stopped(event: Event) -> str:
    if event.kind is EventKind.EMERGENCY_STOP:
        return "stopped (emergency stop)"
    return "blocked"


def _why(event: Event) -> str:
    return f" ({event.reason})" if event.reason else ""


def _shown(status: Status | None) -> str:
    return status.value if status else "nothing"
