"""Review runs of one task: start or resume the graph, record human decisions, report where it stands.

The CLI and the MCP server call these. Checkpoints live in ``state/checkpoints.sqlite`` with the
task id as the thread id, so a run survives the process: ``run`` again resumes unfinished work,
and a human decision resumes the graph from its interrupt.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrator._lock import exclusive
from orchestrator.errors import StateError
from orchestrator.governance.authority import require
from orchestrator.redact import redact
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import require_sandbox
from orchestrator.state import tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.project import Permission
from orchestrator.state.taskcard import TaskCard, load
from orchestrator.state.workspace import Workspace


def load_card(ws: Workspace, tid: str) -> TaskCard:
    """The task's TaskCard, checked against the workspace (queues, personas)."""
    from orchestrator.review.personas import load_persona

    load_found_secrets(ws, tid)
    card_file = tasks.get(ws, tid).card
    card = load(ws.root / card_file)
    tasks.check_card(ws, card, file=card_file)
    for name in card.personas:
        load_persona(name, workspace=ws.root)
    return card


def load_found_secrets(ws: Workspace, tid: str) -> None:
    """Mask, in this process, the secrets an earlier review of ``tid`` found (kept as salted hashes)."""
    from orchestrator import redact
    from orchestrator.review.report import secret_hashes_file

    redact.load_hashes(secret_hashes_file(ws, tid))


@contextmanager
def open_graph(ws: Workspace) -> Iterator[Any]:
    """The compiled graph with its SQLite checkpointer (closed on exit)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from orchestrator.workflow.graph import build_graph

    # check_same_thread=False: the parallel checks write checkpoints from worker threads.
    conn = sqlite3.connect(ws.state_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        yield build_graph(SqliteSaver(conn))
    finally:
        conn.close()


#: What each finding shows in ``--json`` output.
FINDING_KEYS = ("dimension", "severity", "file", "line", "rule", "message", "suggestion", "persona")


def run(ws: Workspace, tid: str, *, sandbox: bool = True, **options: Any) -> dict[str, Any]:
    """Run the task's review loop to its next stop (human checkpoint, escalation or the end).

    A new run starts from the builder; an interrupted one resumes with only the unfinished work.
    ``options`` go to ``pipeline.make_context`` (builder_mode, reviewer_mode, model, ...).
    """
    from langgraph.types import Command

    from orchestrator.workflow.wiring import make_context

    card = load_card(ws, tid)
    if sandbox:
        require_sandbox()
    config = {"configurable": {"thread_id": tid}}
    with _driving(ws, tid) as graph:
        snapshot = graph.get_state(config)
        waiting = (_waiting(snapshot) or {}).get("kind")
        if waiting == "builder" or (waiting is None and (snapshot.next or not snapshot.values)):
            start: Any = None if snapshot.next else _first_input(ws, tid, card, options)
            if waiting == "builder":
                if git.head(git.worktree_path(ws.root, tid)) == snapshot.values.get("last_reviewed"):
                    return {**_status(ws, tid, snapshot), "note": _nothing_new(tid, snapshot.values)}
                start = Command(resume={"action": "submitted"})
            ctx = make_context(
                ws,
                card,
                sandbox=sandbox,
                check_models=not _merge_unfinished(snapshot),  # a merge calls no model: needs no key
                **_with_saved_modes(snapshot, options),
            )
            graph.invoke(start, config, context=ctx, durability="sync")
        return _status(ws, tid, graph.get_state(config))


def decide(
    ws: Workspace, tid: str, action: str, *, actor: str, feedback: str | None = None, **options: Any
) -> dict[str, Any]:
    """Record a human decision at the checkpoint (``approve`` or ``reject``) and run on from it.

    Raises:
        PermissionDenied: approving needs the ``merge`` permission; agents never decide.
        StateError: nothing is waiting for a decision.
    """
    from langgraph.types import Command

    from orchestrator.workflow.wiring import make_context

    doing = "approve a merge" if action == "approve" else "reject a reviewed change"
    require(ws, actor, Permission.MERGE if action == "approve" else Permission.APPROVE_TASK, doing=doing)
    if action == "reject" and not (feedback and feedback.strip()):
        raise StateError("rejecting needs feedback for the builder", fix="pass --feedback TEXT")
    card = load_card(ws, tid)
    if action != "approve" and options.get("sandbox", True):  # a merge runs no command
        require_sandbox()
    config = {"configurable": {"thread_id": tid}}
    with _driving(ws, tid) as graph:
        snapshot = graph.get_state(config)
        waiting = (_waiting(snapshot) or {}).get("kind")
        if _merge_unfinished(snapshot):
            # Approved and killed inside the merge node: approving again finishes it (git.merge and
            # the status moves are idempotent). No model is built: a merge never calls one.
            if action != "approve":
                return {**_status(ws, tid, snapshot), "note": _merge_pending(tid)}
            _require_reviewed_head(ws, tid, snapshot.values)
            ctx = make_context(ws, card, **_with_saved_modes(snapshot, options))
            graph.invoke(None, config, context=ctx, durability="sync")
            return _status(ws, tid, graph.get_state(config))
        if waiting not in ("human_review", "escalation"):
            return {**_status(ws, tid, snapshot), "note": _nothing_waiting(ws, tid)}
        if waiting == "escalation":  # the task is blocked: going on from it unblocks it
            require(ws, actor, Permission.UNBLOCK, doing="decide on an escalated task")
        if action == "approve":
            _require_reviewed_head(ws, tid, snapshot.values)
        ctx = make_context(ws, card, **_with_saved_modes(snapshot, options))
        # The resume value is checkpointed as given: mask a pasted secret before it is stored.
        decision = {"action": action, "actor": actor, "feedback": feedback and redact(feedback)}
        graph.invoke(Command(resume=decision), config, context=ctx, durability="sync")
        return _status(ws, tid, graph.get_state(config))


def status(ws: Workspace, tid: str) -> dict[str, Any]:
    """Where the task's run stands: ``task``, ``status``, ``round``, ``verdict``, ``waiting_for``."""
    load_found_secrets(ws, tid)
    with open_graph(ws) as graph:
        snapshot = graph.get_state({"configurable": {"thread_id": tid}})
        merge_note = {"note": _merge_pending(tid)} if _merge_unfinished(snapshot) else {}
        return {**_status(ws, tid, snapshot), **merge_note}


@contextmanager
def _driving(ws: Workspace, tid: str) -> Iterator[Any]:
    """The graph, with this task's run lock: one process drives a task at a time."""
    busy = StateError(
        f"another aios process is running {tid}'s review",
        fix=f"wait for it to finish, then check `aios review status {tid}`",
    )
    with exclusive(ws.state_dir / f".run-{tid}.lock", busy=busy), open_graph(ws) as graph:
        yield graph


def _require_reviewed_head(ws: Workspace, tid: str, values: dict[str, Any]) -> None:
    """Only the commit the review approved may be merged, not whatever the branch holds now."""
    head = git.head(ws.root, f"refs/heads/{git.branch_name(tid)}")
    reviewed = values.get("last_reviewed")
    if reviewed and head != reviewed:
        raise StateError(
            f"{git.branch_name(tid)} moved since it was reviewed ({reviewed[:10]} reviewed, now {head[:10]})",
            fix=f'send it back for review: `aios review reject {tid} --feedback "re-review the new commits"`',
        )


def _with_saved_modes(snapshot: Any, options: dict[str, Any]) -> dict[str, Any]:
    """A resumed run keeps the builder and reviewer modes it started with.

    Raises:
        StateError: the command asks for a different mode than the run started with.
    """
    saved = (snapshot.values or {}).get("modes") or {}
    for key, value in saved.items():
        if options.get(key) not in (None, value):
            flag = "--builder" if key == "builder_mode" else "--reviewer"
            raise StateError(
                f"this review run started with {flag} {value}, not {options[key]}",
                fix=f"leave out {flag} (or pass {flag} {value}) to go on with it",
            )
    return {**{k: v for k, v in options.items() if v is not None}, **saved}


def _first_input(ws: Workspace, tid: str, card: TaskCard, options: dict[str, Any]) -> dict[str, Any]:
    task = tasks.get(ws, tid)
    if task.status in (Status.INBOX, Status.READY):
        raise StateError(
            f"{tid} is {task.status.value}; a review run needs a started task",
            fix=f"approve and start it first: `aios task start {tid}`",
        )
    from orchestrator.review.diff import merge_base

    worktree = git.ensure_worktree(ws.root, tid, card.target_branch)
    base = merge_base(worktree, card.target_branch)
    modes = {
        "builder_mode": options.get("builder_mode") or "agent",
        "reviewer_mode": options.get("reviewer_mode") or "model",
    }
    return {
        "task_id": tid,
        "round": 0,
        "base": base,
        "checks": {},
        "feedback": [],
        "findings": [],
        "modes": modes,
    }


def _waiting(snapshot: Any) -> dict[str, Any] | None:
    for task in snapshot.tasks or ():
        for pending in task.interrupts or ():
            return dict(pending.value)
    return None


def _merge_unfinished(snapshot: Any) -> bool:
    """An approved merge was interrupted (the process died inside the merge node)."""
    return tuple(snapshot.next or ()) == ("merge",) and _waiting(snapshot) is None


def _status(ws: Workspace, tid: str, snapshot: Any) -> dict[str, Any]:
    values = snapshot.values or {}
    waiting = _waiting(snapshot)
    return {
        "task": tid,
        "status": tasks.get(ws, tid).status.value,
        "round": values.get("round", 0),
        "verdict": values.get("verdict"),
        "waiting_for": waiting["kind"] if waiting else None,
        "reasons": values.get("reasons", []),
        "merged": values.get("merged"),
        "findings": [{k: f.get(k) for k in FINDING_KEYS} for f in values.get("findings") or []],
    }


def _nothing_new(tid: str, values: dict[str, Any]) -> str:
    return (
        f"nothing new on {git.branch_name(tid)} since round {values.get('round')} was reviewed: "
        f"commit the revision there, then `aios review submit {tid}`"
    )


def _merge_pending(tid: str) -> str:
    return f"{tid}'s merge was approved but did not finish: `aios review approve {tid}` finishes it"


def _nothing_waiting(ws: Workspace, tid: str) -> str:
    if tasks.get(ws, tid).status is Status.DONE:
        return f"{tid} is already merged; nothing to do"
    return f"nothing is waiting for a decision on {tid}; run `aios review run {tid}` first"
