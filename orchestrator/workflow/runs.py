"""Review runs of one task: start or resume the graph, record human decisions, report where it stands.

The CLI and the MCP server call these with a ``RunOptions`` and get a ``RunStatus`` back.
Checkpoints live in ``state/checkpoints.sqlite`` with the task id as the thread id, so a run
survives the process: ``run`` again resumes unfinished work, and a human decision (``answer``)
resumes the graph from its interrupt.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from orchestrator._lock import exclusive
from orchestrator.errors import ConfigError, StateError
from orchestrator.governance import actions
from orchestrator.governance.deviations import Override
from orchestrator.governance.guard import RunGuard
from orchestrator.governance.matrix import Op
from orchestrator.redact import redact
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import require_sandbox
from orchestrator.state import tasks
from orchestrator.state.lifecycle import Status
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import RoleMode, TaskCard, load
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import remote
from orchestrator.workflow.checkpoint import HumanDecision, ReviewState, dump_decision, load_findings
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.status import RunFinding, RunStatus


def load_card(ws: Workspace, tid: str) -> TaskCard:
    """The task's TaskCard, checked against the workspace (queues, personas, target branch).

    The workflow file is read too: a broken one is refused before the run takes its lock.
    """
    from orchestrator.review.personas import load_persona
    from orchestrator.workflow.settings import load_workflow

    load_found_secrets(ws, tid)
    card_file = tasks.get(ws, tid).card
    card = load(ws.root / card_file)
    tasks.check_card(ws, card, file=card_file)
    for name in card.personas:
        load_persona(name, workspace=ws.root)
    _require_target(ws, card, card_file)
    load_workflow(workspace=ws.root)
    return card


def load_found_secrets(ws: Workspace, tid: str) -> None:
    """Mask, in this process, the secrets an earlier review of ``tid`` found (kept as salted hashes)."""
    from orchestrator import redact

    redact.load_hashes(ws.secret_hashes_file(tid))


@contextmanager
def open_graph(ws: Workspace) -> Iterator[Any]:
    """The compiled graph with the workspace's checkpointer (closed on exit): SQLite by default,
    PostgreSQL or a LangGraph Server when configured (``engines``; ``state.backends``)."""
    from orchestrator.state import backends
    from orchestrator.workflow import engines

    if served := backends.langgraph_url(ws):
        with engines.served_graph(ws, served) as graph:
            yield graph
    elif shared := backends.checkpoint_url(ws):
        with engines.postgres_graph(ws, shared) as graph:
            yield graph
    else:
        with _sqlite_graph(ws) as graph:
            yield graph


@contextmanager
def _sqlite_graph(ws: Workspace) -> Iterator[Any]:
    """The compiled graph with its SQLite checkpointer (closed on exit)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from orchestrator.workflow.graph import build_graph

    # check_same_thread=False: the parallel checks write checkpoints from worker threads.
    conn = _connect(ws)
    try:
        saver = SqliteSaver(conn)
        try:
            saver.setup()  # reads the file's header now, so a broken file is refused before any step
        except sqlite3.DatabaseError as exc:
            raise _checkpoint_error(ws, exc) from None
        yield build_graph(saver)
    finally:
        conn.close()


def _config(ws: Workspace, tid: str) -> dict[str, Any]:
    from orchestrator.workflow import engines

    return engines.config(ws, tid)


def _connect(ws: Workspace) -> sqlite3.Connection:
    try:
        return sqlite3.connect(ws.checkpoints_db, check_same_thread=False)
    except sqlite3.DatabaseError as exc:
        raise _checkpoint_error(ws, exc) from None


def _checkpoint_error(ws: Workspace, exc: sqlite3.DatabaseError) -> StateError:
    """A checkpoint database that cannot be used, as a clear error (what failed and what to do)."""
    rel = ws.rel(ws.checkpoints_db)
    if isinstance(exc, sqlite3.OperationalError):  # cannot open or write: a permission or disk problem
        return StateError(
            f"cannot open the run checkpoints: {exc}",
            file=rel,
            fix=f"make {ws.rel(ws.state_dir)}/ writable and check the disk has space, then run it again",
        )
    return StateError(
        f"the run checkpoints are not a readable SQLite database ({exc})",
        file=rel,
        fix=f"move it away (`mv {rel} {rel}.broken`); the run restarts from the task's status",
    )


def run(
    ws: Workspace,
    tid: str,
    options: RunOptions | None = None,
    *,
    actor: str,
    session: Session | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunStatus:
    """Run the task's review loop to its next stop (human checkpoint, escalation or the end).

    A new run starts from the builder; an interrupted one resumes with only the unfinished work,
    in the modes it started with. ``progress`` gets one line per step. ``actor`` (an operator, or
    an agent's builder session on its own task) submits the task's work to the loop.

    Raises:
        PermissionDenied: the actor may not submit this task for review.
    """
    from langgraph.types import Command

    actions.require(ws, Op.SUBMIT, actor=actor, session=session, task_id=tid)
    options = options or RunOptions()
    card = load_card(ws, tid)
    if options.sandbox:
        require_sandbox()
    config = _config(ws, tid)
    with _driving(ws, tid) as graph:
        remote.sync(ws, tid, tasks.target_branch(ws, card))  # start from what other clones pushed
        snapshot = graph.get_state(config)
        waiting = (_waiting(snapshot) or {}).get("kind")
        if waiting == "builder" or (waiting is None and (snapshot.next or not snapshot.values)):
            resumed, merging = _resumed(snapshot, options), _merge_unfinished(snapshot)
            if resumed.builder == "agent" and not merging:
                _require_own_checkout(ws, tid)
            start: Any = None if snapshot.next else _first_input(ws, tid, card, options)
            if waiting == "builder":
                # The branch, not the worktree: an external builder may commit in a checkout of their own.
                if _branch_head(ws, tid) == snapshot.values.get("last_reviewed"):
                    return _status(ws, tid, snapshot).noted(_nothing_new(tid, snapshot.values))
                start = Command(resume={"action": "submitted"})
            # A merge calls no model, so finishing one needs no key.
            _invoke(graph, start, ws, card, resumed, actor=actor, progress=progress, check_models=not merging)
        return _published(ws, tid, _status(ws, tid, graph.get_state(config)))


def answer(
    ws: Workspace,
    tid: str,
    action: Literal["approve", "reject"],
    *,
    actor: str,
    session: Session | None = None,
    feedback: str | None = None,
    options: RunOptions | None = None,
    progress: Callable[[str], None] | None = None,
    override: Override | None = None,
) -> RunStatus:
    """Answer the human checkpoint (``approve`` or ``reject``) and run on from it.

    Approving runs the merge's gates (``gates.require_merge``: review and governance). Approving a
    change the review policy did not approve (at an escalation) is an override merge: ``override``
    names an open deviation covering the task, or declares one (``governance.deviations``).

    Raises:
        PermissionDenied: approving needs an L2 lead (L1 in the governance queue); no agent decides;
            an override merge without a deviation; a failed gate.
        StateError: rejecting without feedback, or the branch moved since it was reviewed.
        RunStopped: approving a task that is frozen, in a locked queue, or stopped by a person.
    """
    from langgraph.types import Command

    options = options or RunOptions()
    if action == "reject" and not (feedback and feedback.strip()):
        raise StateError("rejecting needs feedback for the builder", fix="pass --feedback TEXT")
    actions.require(
        ws, Op.MERGE if action == "approve" else Op.REJECT, actor=actor, session=session, task_id=tid
    )
    card = load_card(ws, tid)
    if action != "approve" and options.sandbox:  # a merge runs no command
        require_sandbox()
    config = _config(ws, tid)
    with _driving(ws, tid) as graph:
        remote.sync(ws, tid, tasks.target_branch(ws, card))  # the reviewed branch, the newest target
        snapshot = graph.get_state(config)
        waiting = (_waiting(snapshot) or {}).get("kind")
        guard = _guard(ws, tid, action)
        if _merge_unfinished(snapshot):
            # Approved, but the merge node did not finish: killed inside it, or git refused (files
            # in the way, a conflict, signing). Approving again finishes it (git.merge and the
            # status moves are idempotent); no model is built: a merge never calls one.
            if action == "approve":
                guard.check(f"merge {tid}")
                _require_reviewed_head(ws, tid, snapshot.values)
                if not _merge_landed(ws, tid, card):  # a landed merge passed its gates: finish it
                    _gate_merge(ws, tid, snapshot.values, actor=actor, override=override)
            elif _merge_landed(ws, tid, card):  # merged already: only finishing it is left
                return _status(ws, tid, snapshot).noted(_merge_pending(ws, tid, card))
            else:  # nothing was merged: rejecting is the way out, as at the human checkpoint
                graph.update_state(config, _decision(action, actor, feedback), as_node="human_review")
            start: Any = None  # on from the checkpoint as it stands now
        else:
            if waiting not in ("human_review", "escalation"):
                return _status(ws, tid, snapshot).noted(_nothing_waiting(ws, tid))
            if waiting == "escalation":  # the task is blocked: going on from it unblocks it
                actions.require(ws, Op.DECIDE_ESCALATION, actor=actor, session=session, task_id=tid)
            if action == "approve":
                guard.check(f"merge {tid}")  # before the decision is kept: a stopped task is not merged
                _require_reviewed_head(ws, tid, snapshot.values)
                _gate_merge(ws, tid, snapshot.values, actor=actor, override=override)
            start = Command(resume=dump_decision(_human(action, actor, feedback)))
        _invoke(
            graph, start, ws, card, _resumed(snapshot, options), actor=actor, progress=progress, guard=guard
        )
        return _status(ws, tid, graph.get_state(config))


def _invoke(
    graph: Any,
    start: Any,
    ws: Workspace,
    card: TaskCard,
    options: RunOptions,
    *,
    actor: str,
    progress: Callable[[str], None] | None,
    check_models: bool = False,
    guard: RunGuard | None = None,
) -> None:
    """Invoke the graph on the task's thread from ``start`` (input, resume command or None), with
    its agents' sessions open, under ``guard`` (begun now when None).

    The graph's context is the plain-data ``RunSpec``. In-process, the context wired here (with
    ``progress``; every model built first when ``check_models``, so a missing key fails before
    anything runs) serves it; on a server the nodes build theirs from the spec, and the server's
    environment holds the keys.
    """
    from orchestrator.workflow import engines, spec
    from orchestrator.workflow.graph import RUN_ACTORS
    from orchestrator.workflow.wiring import make_context

    config = engines.config(ws, card.id)
    with run_agents(ws, card, by=actor) as agents:
        guard = guard or RunGuard.begin(ws, card.id, own=RUN_ACTORS)  # as the graph is invoked
        data = spec.spec_for(ws, card.id, options, sessions=agents, guard=guard)
        if engines.is_remote(graph):
            graph.invoke(start, config, context=data, durability="sync")
            return
        ctx = make_context(
            ws, card, options, progress=progress, check_models=check_models, sessions=agents, guard=guard
        )
        with spec.running(data, ctx):
            graph.invoke(start, config, context=data, durability="sync")


@contextmanager
def run_agents(ws: Workspace, card: TaskCard, *, by: str) -> Iterator[dict[str, Session]]:
    """Sessions for the run's own builder and reviewer on this task, ended when the run stops.

    The builder works in the task's mode (a builder or executor task; the role-mode matrix refuses
    the others), so the audit trail names each agent's session and a member can end it.
    """
    from orchestrator.governance import sessions

    mode = card.role_mode if card.role_mode in (RoleMode.BUILDER, RoleMode.EXECUTOR) else RoleMode.BUILDER
    with (
        sessions.builtin(ws, "builder", role_mode=mode, task_id=card.id, by=by) as builder,
        sessions.builtin(ws, "reviewer", role_mode=RoleMode.REVIEWER, task_id=card.id, by=by) as reviewer,
    ):
        yield {builder.actor: builder, reviewer.actor: reviewer}


def _published(ws: Workspace, tid: str, found: RunStatus) -> RunStatus:
    """``found``, after pushing the task branch to the shared remote (if any) for approvers elsewhere."""
    refused = remote.publish(ws, tid)
    return found.noted(refused) if refused else found


def _guard(ws: Workspace, tid: str, action: Literal["approve", "reject"]) -> RunGuard:
    """The guard of a run a human decision goes on with; its fix says how to decide again."""
    from orchestrator.workflow.graph import RUN_ACTORS

    again = f"`aios review {action} {tid}` again" if action == "approve" else None
    return RunGuard.begin(ws, tid, own=RUN_ACTORS, resume=again)


def _human(action: Literal["approve", "reject"], actor: str, feedback: str | None) -> HumanDecision:
    # The decision is checkpointed as given: mask a pasted secret before it is stored.
    return HumanDecision(action=action, actor=actor, feedback=feedback and redact(feedback))


def _decision(action: Literal["approve", "reject"], actor: str, feedback: str | None) -> ReviewState:
    """The human checkpoint's update for a decision given while the merge was pending."""
    from orchestrator.workflow.graph import decided

    return decided(dump_decision(_human(action, actor, feedback)))


def status(ws: Workspace, tid: str) -> RunStatus:
    """Where the task's run stands."""
    load_found_secrets(ws, tid)
    with open_graph(ws) as graph:
        snapshot = graph.get_state(_config(ws, tid))
        found = _status(ws, tid, snapshot)
        if not _merge_unfinished(snapshot):
            return found
        return found.noted(_merge_pending(ws, tid, load_card(ws, tid)))


@contextmanager
def _driving(ws: Workspace, tid: str) -> Iterator[Any]:
    """The graph, with this task's run lock: one process drives a task at a time."""
    busy = StateError(
        f"another aios process is running {tid}'s review",
        fix=f"wait for it to finish, then check `aios review status {tid}`",
    )
    with exclusive(ws.run_lock(tid), busy=busy), open_graph(ws) as graph:
        yield graph


def _branch_head(ws: Workspace, tid: str) -> str:
    return git.head(ws.root, f"refs/heads/{git.branch_name(tid)}")


def _require_own_checkout(ws: Workspace, tid: str) -> None:
    """The agent builder commits on the task branch in the task's own worktree, so it needs the branch.

    An external builder's checkout of ``task/<ID>`` is reviewed from a detached copy instead
    (`git.ensure_worktree`), but commits made there would never reach the branch.
    """
    branch, own = git.branch_name(tid), ws.worktree(tid)
    elsewhere = git.checkout_of(ws.root, branch)
    if elsewhere is not None and elsewhere.resolve() != own.resolve():
        raise StateError(
            f"{branch} is checked out in {elsewhere}; the agent builder commits on it in {ws.rel(own)}",
            fix=f"free the branch there (`git -C {elsewhere} switch --detach`), or review the commits "
            f"made there: `aios review run {tid} --builder external`",
        )


def _require_reviewed_head(ws: Workspace, tid: str, values: dict[str, Any]) -> None:
    """Only the commit the review approved may be merged, not whatever the branch holds now."""
    head = _branch_head(ws, tid)
    reviewed = values.get("last_reviewed")
    if reviewed and head != reviewed:
        raise StateError(
            f"{git.branch_name(tid)} moved since it was reviewed ({reviewed[:10]} reviewed, now {head[:10]})",
            fix=f'send it back for review: `aios review reject {tid} --feedback "re-review the new commits"`',
        )


def _gate_merge(
    ws: Workspace, tid: str, values: dict[str, Any], *, actor: str, override: Override | None
) -> None:
    """Refuse the merge unless its gates pass; an override needs a deviation, and the trail names it.

    The approver's decision answers the violations on the task's trail before it: the trail says which.
    """
    from orchestrator.governance import deviations
    from orchestrator.workflow import gates

    verdict = values.get("verdict")
    answered = gates.unanswered_violations(ws, tasks.get(ws, tid))  # before the approver's own notes
    deviation = None
    if verdict != "APPROVED":
        deviation = deviations.override_for_merge(ws, tid, verdict=verdict, override=override, actor=actor)
    gates.require_merge(ws, tid, approver=actor, override=deviation)
    if deviation is not None:
        deviations.record_use(ws, tid, deviation, actor=actor, verdict=verdict)
    if answered:
        numbers = ", ".join(f"#{n}" for n, _ in answered)
        tasks.note(ws, tid, actor=actor, reason=f"merge approval by {actor} answers violation(s) {numbers}")


def _resumed(snapshot: Any, options: RunOptions) -> RunOptions:
    """``options`` with the modes the run started with (a new run has none saved yet)."""
    return options.resumed_with((snapshot.values or {}).get("modes") or {})


def _first_input(ws: Workspace, tid: str, card: TaskCard, options: RunOptions) -> ReviewState:
    task = tasks.get(ws, tid)
    if task.status in (Status.INBOX, Status.READY):
        raise StateError(
            f"{tid} is {task.status.value}; a review run needs a started task",
            fix=f"approve and start it first: `aios task start {tid}`",
        )
    from orchestrator.review.diff import merge_base

    target = tasks.target_branch(ws, card)  # load_card made sure it exists
    worktree = git.ensure_worktree(ws.root, tid, target)
    base = merge_base(worktree, target)
    return {
        "task_id": tid,
        "round": 0,
        "base": base,
        "checks": {},
        "feedback": [],
        "findings": [],
        "modes": options.modes(),
    }


def _require_target(ws: Workspace, card: TaskCard, card_file: str) -> None:
    """The branch the task merges into, which must exist with a commit before a run touches git."""
    target = tasks.target_branch(ws, card)
    if not git.branch_exists(ws.root, target):
        raise ConfigError(
            f"the target branch {target!r} does not exist in {ws.root}, or has no commit yet",
            file=card_file,
            field="target_branch",
            fix=f"set `target_branch:` in {card_file} to an existing branch (`git branch --list` shows "
            f"them), or create it: `git branch {target} <commit>`",
        )


def _waiting(snapshot: Any) -> dict[str, Any] | None:
    for task in snapshot.tasks or ():
        for pending in task.interrupts or ():
            return dict(pending.value)
    return None


def _merge_unfinished(snapshot: Any) -> bool:
    """An approved merge was interrupted (the process died inside the merge node)."""
    return tuple(snapshot.next or ()) == ("merge",) and _waiting(snapshot) is None


def _status(ws: Workspace, tid: str, snapshot: Any) -> RunStatus:
    values = snapshot.values or {}
    waiting = _waiting(snapshot)
    return RunStatus(
        task=tid,
        status=tasks.get(ws, tid).status.value,
        round=values.get("round", 0),
        verdict=values.get("verdict"),
        waiting_for=waiting["kind"] if waiting else None,
        merged=values.get("merged"),
        reasons=values.get("reasons", []),
        findings=[RunFinding.of(f) for f in load_findings(values.get("findings"))],
    )


def _nothing_new(tid: str, values: dict[str, Any]) -> str:
    return (
        f"nothing new on {git.branch_name(tid)} since round {values.get('round')} was reviewed: "
        f"commit the revision there, then `aios review submit {tid}`"
    )


def _merge_landed(ws: Workspace, tid: str, card: TaskCard) -> bool:
    """Whether the task branch is already in its target (a process died after the merge itself)."""
    branch, target = git.branch_name(tid), tasks.target_branch(ws, card)
    return git.branch_exists(ws.root, branch) and git.is_merged(ws.root, branch, target)


def _merge_pending(ws: Workspace, tid: str, card: TaskCard) -> str:
    if _merge_landed(ws, tid, card):
        return f"{tid}'s merge was approved but did not finish: `aios review approve {tid}` finishes it"
    return (
        f"{tid}'s merge was approved but did not happen: fix what it reported and `aios review approve "
        f'{tid}` again, or send the change back with `aios review reject {tid} --feedback "..."`'
    )


def _nothing_waiting(ws: Workspace, tid: str) -> str:
    if tasks.get(ws, tid).status is Status.DONE:
        return f"{tid} is already merged; nothing to do"
    return f"nothing is waiting for a decision on {tid}; run `aios review run {tid}` first"
