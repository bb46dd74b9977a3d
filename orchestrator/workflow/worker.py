"""Workers (``aios worker``): take ready tasks from the shared queues, run their reviews, go on.

Authority. A worker is started by a member, never by an agent's session, and acts as that
member: it claims a task with the same ``start`` a person's ``aios task start`` takes (the queue
limit and the freeze are enforced there, under the state lock) and runs its review as
``aios review run`` does (``runs.run``: the run's builder and reviewer agent sessions, started by
the member, named on the trail). It never approves, rejects or merges: the human checkpoint stays.
Starting and stopping a worker go on the governance log.

Claims are notes on the task's own trail, in one shape (``Mark``)::

    worker w1 claims TASK_DEV_0001 (pid 4242 on build-1)      the start event's reason
    worker w2 adopts TASK_DEV_0001 (pid 77 on build-1) from w1 an orphan taken over
    worker w1 hands back TASK_DEV_0001 (pid 4242 on build-1)  stopped mid-run: any worker resumes it
    worker w1 leaves TASK_DEV_0001 (pid 4242 on build-1)      its run stopped where a person decides

One task, one worker: a claim is the ``start`` move, which only one process can make from
``ready``; a second worker gets a ``TransitionError`` (or a full queue's ``QueueError``) and tries
the next task. Adopting is checked again under the state lock (``_adopt``).

Stopping. Each review runs in a child process (``_review_child``), so a worker is never
stopped half-way through its own state writes. SIGTERM or SIGINT (``handling_signals``) stop the
worker at once: the child and its process group are killed (a sandboxed evidence command dies
with it; an unsandboxed one is left to its time limit), the task is handed back on its trail,
and the worker exits 0. The next worker adopts the task and the run resumes from its checkpoint,
as after any crash; it is not reviewed twice.

A crashed worker (``kill -9``, a lost machine) leaves its claim on the trail with no hand-back.
A worker on the same host sees the claimant's pid gone and the task's run lock free, and adopts
the task. A claim made on another host cannot be checked from here: a member who made sure that
worker is gone runs ``aios worker release TASK_ID --reason ...``, which hands it back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from types import FrameType
from typing import TYPE_CHECKING, Any

from orchestrator._lock import exclusive
from orchestrator.errors import PermissionDenied, QueueError, StateError, TransitionError
from orchestrator.governance import actions
from orchestrator.governance.authority import audited, decide, is_agent
from orchestrator.governance.matrix import Op
from orchestrator.state import audit, tasks
from orchestrator.state.lifecycle import HOLDS_SLOT, Status
from orchestrator.state.queues import policy
from orchestrator.state.records import Index, TaskState
from orchestrator.state.sessions import Session
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.status import RunStatus

if TYPE_CHECKING:
    from orchestrator.state.stores import StateStore

#: The error of a task a stopped worker handed back.
HANDED_BACK = "stopped: handed back, its run resumes from its checkpoint"

#: A worker's name: what the trail and the governance log call it.
WORKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Verb(StrEnum):
    """What a worker's note on a task's trail says it did."""

    CLAIMS = "claims"
    ADOPTS = "adopts"
    HANDS_BACK = "hands back"
    LEAVES = "leaves"


_MARK = re.compile(
    r"worker (?P<worker>\S+) (?P<verb>claims|adopts|hands back|leaves) (?P<task>\S+)"
    r" \(pid (?P<pid>\d+) on (?P<host>[^\s)]+)\)"
)


@dataclass(frozen=True)
class Mark:
    """A worker's note on a task's trail (see the module docstring)."""

    seq: int
    worker: str
    verb: Verb
    pid: int
    host: str

    @property
    def holds(self) -> bool:
        """Whether the worker that wrote it still holds the task (unless it died)."""
        return self.verb in (Verb.CLAIMS, Verb.ADOPTS)


def marks(task: TaskState) -> list[Mark]:
    """Every worker note on ``task``'s trail, oldest first."""
    found = []
    for event in task.events:
        hit = _MARK.match(event.reason or "")
        if hit and hit["task"] == task.id:
            found.append(Mark(event.seq, hit["worker"], Verb(hit["verb"]), int(hit["pid"]), hit["host"]))
    return found


def last_mark(task: TaskState) -> Mark | None:
    """The newest worker note on ``task``'s trail, if any."""
    found = marks(task)
    return found[-1] if found else None


@dataclass(frozen=True)
class Identity:
    """Who a worker is: its name, and the process and host it runs as (to tell it is alive)."""

    name: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=lambda: _host())

    def says(self, verb: Verb, tid: str, more: str = "") -> str:
        """The note ``verb`` on ``tid``, in the shape ``marks`` reads back."""
        return f"worker {self.name} {verb.value} {tid} (pid {self.pid} on {self.host}){more}"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()) or "localhost"


def check_name(name: str) -> str:
    """``name`` if it can name a worker on a trail.

    Raises:
        StateError: with the characters allowed.
    """
    if not WORKER_NAME.fullmatch(name):
        raise StateError(
            f"bad worker name {name!r}",
            field="--name",
            fix="use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


@dataclass(frozen=True)
class WorkerOptions:
    """What one worker takes and how long it goes on."""

    queues: tuple[str, ...] = ()
    """The queues it takes tasks from; empty: every queue of the project."""
    max_tasks: int | None = None
    """Stop after this many tasks (reviews run, adopted ones included); None: no limit."""
    poll: float = 5.0
    """Seconds between looks when nothing can be taken."""
    exit_when_idle: bool = False
    """Stop when no task is ready (or waiting to be adopted) in its unlocked queues, or the system
    is frozen; a full queue is waited on."""
    once: bool = False
    """Look once: take one task if one can be taken now, then stop."""
    run: RunOptions = field(default_factory=RunOptions)
    """The builder and reviewer modes, model and sandbox of every review it runs."""


@dataclass(frozen=True)
class Outcome:
    """One task a worker took: how its run stopped, or why it did not finish."""

    task: str
    adopted: bool = False
    status: RunStatus | None = None
    error: str | None = None


class Worker:
    """One worker process's loop. ``handling_signals`` makes SIGTERM/SIGINT stop it cleanly.

    Example:
        >>> worker = Worker(ws, actor="alice", options=WorkerOptions(exit_when_idle=True))
        >>> with handling_signals(worker):
        ...     for outcome in worker.run():
        ...         print(outcome.task, outcome.status and outcome.status.waiting_for)
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        actor: str,
        options: WorkerOptions | None = None,
        name: str | None = None,
        session: Session | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.ws, self.actor, self.session = ws, actor, session
        self.options = options or WorkerOptions()
        self.me = Identity(check_name(name or f"w{os.getpid()}"))
        self.progress = progress
        self.stopping = False
        self._child: subprocess.Popen[str] | None = None  # the review running now
        self._skip: set[str] = set()  # tasks this worker may not take (refused to this member)

    # ---- the loop ----

    def run(self) -> Iterator[Outcome]:
        """Take tasks until told to stop, ``max_tasks`` are done, or (``exit_when_idle``) none is left.

        Raises:
            PermissionDenied: the actor is an agent, or may not start or submit tasks in a queue.
            StateError: an unknown queue.
        """
        queues = self._authorise()
        audit.append_governance(self.ws, f"{self._who()} · worker {self.me.name} starts{self._where()}: "
                                f"queues {', '.join(queues)}")  # fmt: skip
        done = 0
        try:
            while not self.stopping and (self.options.max_tasks is None or done < self.options.max_tasks):
                outcome = self.take(queues)
                if outcome is not None:
                    done += 1
                    yield outcome
                elif self.options.once or (self.options.exit_when_idle and self._idle(queues)):
                    break
                else:
                    self._sleep(self.options.poll)
        finally:
            audit.append_governance(self.ws, f"{self._who()} · worker {self.me.name} stops{self._where()}: "
                                    f"{done} task(s) taken")  # fmt: skip

    def stop(self) -> None:
        """Stop taking tasks; a review in progress is ended at once and its task handed back."""
        self.stopping = True
        self._kill_child()

    def take(self, queues: tuple[str, ...]) -> Outcome | None:
        """Adopt an orphaned task, else claim the most urgent ready one, and run its review.

        None when there is nothing this worker can take now (nothing ready, the queues full or
        locked, the system frozen).
        """
        index = _store(self.ws).index()
        if index.frozen is not None:
            return None
        for tid in _holding(index, queues):
            if tid not in self._skip and self._adopt(tid):
                return self._review(tid, adopted=True)
        for tid in _ready(index, queues):
            if tid not in self._skip and self._claim(tid):
                return self._review(tid, adopted=False)
        return None

    # ---- claiming ----

    def _authorise(self) -> tuple[str, ...]:
        """The worker's queues, once the actor is a member who may start and submit tasks in each."""
        if is_agent(self.actor) or self.session is not None:
            raise PermissionDenied(
                f"{self.actor} cannot run a worker: a worker acts for a member, and agents act only "
                "in the sessions a run starts",
                rule="worker",
                fix="start the worker as a member who may start tasks and run reviews (`--actor NAME`)",
            )
        queues = self.options.queues or tuple(self.ws.project.queues)
        for queue in queues:
            policy(self.ws, queue)  # an unknown queue is refused, naming the known ones
            with audited(self.ws, actor=self.actor, what=f"run a worker on the {queue} queue"):
                for op in (Op.START, Op.SUBMIT):
                    decide(self.ws, op, actor=self.actor, queue=queue)
        return queues

    def _claim(self, tid: str) -> bool:
        """Start ``tid`` as this worker's claim; False when another process took it (or its queue is full)."""
        try:
            actions.transition(self.ws, tid, "start", actor=self.actor, reason=self.me.says(Verb.CLAIMS, tid))
        except (TransitionError, QueueError):
            return False  # another worker (or person) started it first, or the queue filled up meanwhile
        except PermissionDenied:
            self._skip.add(tid)  # audited on the task's trail; this member may not start it
            return False
        return True

    def _adopt(self, tid: str) -> bool:
        """Take over ``tid`` when its worker handed it back or died; checked again under the state lock."""
        seen = _orphaned(self.ws, tid, self.me)
        if seen is None:
            return False
        try:
            actions.require(self.ws, Op.SUBMIT, actor=self.actor, task_id=tid)
        except PermissionDenied:
            self._skip.add(tid)
            return False
        with _store(self.ws).transaction() as txn:
            task = txn.task(tid)
            if task.status not in HOLDS_SLOT or last_mark(task) != seen:
                return False  # another worker adopted it first (the block ends with nothing changed)
            was = f" from {seen.worker}" + ("" if seen.verb is Verb.HANDS_BACK else " (gone)")
            txn.record(task, actor=self.actor, to=task.status, reason=self.me.says(Verb.ADOPTS, tid, was))
        return True

    def _idle(self, queues: tuple[str, ...]) -> bool:
        """Nothing to take until a person acts: the system frozen, or nothing ready and nothing to
        adopt in the unlocked ``queues``. A full queue is not idle: its slots free up."""
        index = _store(self.ws).index()
        if index.frozen is not None:
            return True
        queues = tuple(q for q in queues if not (q in index.queues and index.queues[q].lock))
        ready = [t for t in _ready(index, queues) if t not in self._skip]
        orphans = [
            t for t in _holding(index, queues) if t not in self._skip and _orphaned(self.ws, t, self.me)
        ]
        return not ready and not orphans

    # ---- running ----

    def _review(self, tid: str, *, adopted: bool) -> Outcome:
        """Run ``tid``'s review to its next stop in a child process; the trail says how the worker let go.

        A stop request kills the child (``stop``): the task is handed back, its checkpoint kept.
        """
        found, error = self._run_child(tid) if not self.stopping else (None, None)
        if found is not None:
            self._note(tid, Verb.LEAVES, f": {_where(found)}")
            return Outcome(tid, adopted, status=found)
        if self.stopping:
            self._note(tid, Verb.HANDS_BACK, ": stopped; its run resumes from its checkpoint")
            return Outcome(tid, adopted, error=HANDED_BACK)
        self._note(tid, Verb.LEAVES, f": the run stopped: {error}")
        return Outcome(tid, adopted, error=error)

    def _run_child(self, tid: str) -> tuple[RunStatus | None, str | None]:
        """``runs.run`` in ``_review_child``: its status, else its error (None when it was killed)."""
        request = {
            "root": str(self.ws.root),
            "task": tid,
            "actor": self.actor,
            "options": self.options.run.model_dump(mode="json"),
            "progress": self.progress is not None,
            "parent": os.getpid(),
        }
        # Its own session: a Ctrl-C at the terminal reaches the worker, which decides; the
        # worker ends the child's whole process group.
        self._child = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.workflow._review_child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            if self.stopping:  # a stop that came while the child was starting
                self._kill_child()
            return self._answer(self._child, json.dumps(request))
        finally:
            self._child.wait()
            self._child = None

    def _answer(self, child: subprocess.Popen[str], request: str) -> tuple[RunStatus | None, str | None]:
        assert child.stdin is not None and child.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # killed before it read its request
            child.stdin.write(request)
            child.stdin.close()
        for line in child.stdout:
            message = _message(line)
            if "progress" in message and self.progress is not None:
                self.progress(message["progress"])
            elif "status" in message:
                return RunStatus.model_validate(message["status"]), None
            elif "error" in message:
                return None, str(message["error"])
        if self.stopping:
            return None, None
        return None, f"the review process ended without an answer (exit {child.wait()})"

    def _kill_child(self) -> None:
        child = self._child
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

    def _note(self, tid: str, verb: Verb, more: str) -> None:
        actions.note(self.ws, tid, actor=self.actor, reason=self.me.says(verb, tid, more))

    # ---- small helpers ----

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, in short steps so a stop request is seen at once."""
        end = time.monotonic() + seconds
        while not self.stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))

    def _who(self) -> str:
        return f"{self.actor} ({audit.actor_kind(self.actor)})"

    def _where(self) -> str:
        return f" (pid {self.me.pid} on {self.me.host})"


def release(ws: Workspace, tid: str, *, actor: str, reason: str, session: Session | None = None) -> Mark:
    """Hand back ``tid`` for a worker that is gone (on another host, where its pid cannot be checked).

    The next worker adopts it and resumes its run from the checkpoint. Needs the authority to start
    tasks in its queue.

    Raises:
        StateError: ``tid`` is not held by a worker, or no reason was given.
        PermissionDenied: the actor may not start tasks in its queue.
    """
    if not reason.strip():
        raise StateError(f"releasing {tid} needs a reason", fix="pass --reason TEXT (why its worker is gone)")
    actions.require(ws, Op.START, actor=actor, session=session, task_id=tid)
    task = tasks.get(ws, tid)
    held = last_mark(task)
    if held is None or not held.holds or task.status not in HOLDS_SLOT:
        raise StateError(
            f"{tid} is not held by a worker",
            fix=f"`aios task status {tid}` shows its trail; only a task a worker claimed can be released",
        )
    gone = Identity(held.worker, pid=held.pid, host=held.host)
    actions.note(
        ws,
        tid,
        actor=actor,
        session=session,
        reason=gone.says(Verb.HANDS_BACK, tid, f": released by {actor}: {reason}"),
    )
    return held


@contextmanager
def handling_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM and SIGINT stop ``worker`` (``Worker.stop``) while the block runs; restored after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        worker.stop()

    previous: dict[int, Any] = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# ---- reading the queues ----


def _store(ws: Workspace) -> StateStore:
    """The workspace's task store (YAML files or PostgreSQL): the one place a worker reaches the
    store itself (the queue listing, an adoption's check); everything else goes through the services."""
    return open_store(ws)


def _ready(index: Index, queues: tuple[str, ...]) -> list[str]:
    """Ready tasks in ``queues``, the most urgent first (priority 1 first, then the oldest id)."""
    found = [
        (e.priority, tid) for tid, e in index.tasks.items() if e.status is Status.READY and e.queue in queues
    ]
    return [tid for _, tid in sorted(found)]


def _holding(index: Index, queues: tuple[str, ...]) -> list[str]:
    """Tasks holding a slot in ``queues`` (each may be a dead worker's), in id order."""
    return sorted(tid for tid, e in index.tasks.items() if e.status in HOLDS_SLOT and e.queue in queues)


def _orphaned(ws: Workspace, tid: str, me: Identity) -> Mark | None:
    """The mark that makes ``tid`` free to adopt: handed back, or claimed by a worker that is gone.

    A claimant is gone when it ran on this host, its pid no longer runs, and nobody holds the
    task's run lock. A claim from another host is left to a person (``release``).
    """
    mark = last_mark(tasks.get(ws, tid))
    if mark is None or mark.verb is Verb.LEAVES:
        return None
    if mark.verb is Verb.HANDS_BACK:
        return mark if _run_lock_free(ws, tid) else None
    if mark.host != me.host or (mark.pid, mark.worker) == (me.pid, me.name) or _alive(mark.pid):
        return None
    return mark if _run_lock_free(ws, tid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _run_lock_free(ws: Workspace, tid: str) -> bool:
    """Whether no process drives ``tid``'s run now (its lock is taken and let go at once)."""
    try:
        with exclusive(ws.run_lock(tid), busy=StateError("busy")):
            return True
    except StateError:
        return False


def _message(line: str) -> dict[str, Any]:
    """One line of the review child's answer; anything else a library printed there is skipped."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}


def _where(found: RunStatus) -> str:
    """How a run stopped, for the worker's last note on the task."""
    waiting = found.waiting_for or ("merged" if found.merged else "stopped")
    return f"{found.status}, round {found.round}, verdict {found.verdict}, waiting for {waiting}"
