"""Agent sessions: the only way an agent acts. Each has a role mode and a task scope inside its
agent's grant, an expiry, and a token shown once (the file keeps its hash).

An expired, terminated (by command or by hand in ``state/sessions.yaml``) or unknown session is
refused everywhere: ``authority.decide`` reads the file again on every action.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance import agents
from orchestrator.governance.authority import audited, decide, require_live
from orchestrator.governance.matrix import Op
from orchestrator.state import escalations, tasks
from orchestrator.state import sessions as store
from orchestrator.state.agents import AgentState, key_matches
from orchestrator.state.audit import append_governance
from orchestrator.state.records import now
from orchestrator.state.sessions import Session, SessionState
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

DEFAULT_TTL = timedelta(hours=8)


def create(
    ws: Workspace,
    *,
    agent_id: str,
    role_mode: RoleMode,
    task_scope: list[str],
    ttl: timedelta = DEFAULT_TTL,
    actor: str,
    session: Session | None = None,
) -> tuple[Session, str]:
    """Open a session for ``agent_id``; returns it and its token (shown once, never stored).

    Raises:
        PermissionDenied: the actor may not create sessions, or the mode or scope is outside the
            agent's grant (or the agent is pending or revoked).
        StateError: no such agent or task.
    """
    with audited(ws, actor=actor, what=f"create a session for agent {agent_id}", session=session):
        decide(ws, Op.CREATE_SESSION, actor=actor, session=session)
        _within_grant(ws, agent_id, role_mode, task_scope)
    return _open(ws, agent_id=agent_id, role_mode=role_mode, task_scope=task_scope, ttl=ttl, by=actor)


def request(
    ws: Workspace,
    *,
    agent_id: str,
    role_mode: RoleMode,
    task_scope: list[str],
    ttl: timedelta = DEFAULT_TTL,
    via: str,
    agent_key: str | None = None,
) -> tuple[Session, str]:
    """An approved agent opens a session for itself (over MCP), inside the grant a member gave it.

    The agent proves who it is with its agent key (``agents.join`` or ``agents.issue_key`` gave it
    once): an agent id alone is known to any local process. A member's approval of the agent is
    what lets it open sessions: a pending or revoked agent, a mode or a task outside its grant, is
    refused (and audited) as ``create`` refuses them.

    Raises:
        PermissionDenied: rule ``agent-key``: no key, a wrong one, or an agent that has none;
            rule ``grant``: the agent is not active, or the mode or scope is outside it.
        StateError: no such agent or task.
    """
    actor = f"agent:{agent_id}"
    with audited(ws, actor=actor, what=f"open a session for itself ({via})"):
        _proves_agent(ws, agent_id, agent_key)
        _within_grant(ws, agent_id, role_mode, task_scope)
    opened, token = _open(
        ws, agent_id=agent_id, role_mode=role_mode, task_scope=task_scope, ttl=ttl, by=f"{actor} ({via})"
    )
    append_governance(
        ws,
        f"session {opened.id} of {actor} opened by itself ({via}) in {role_mode.value} mode on "
        f"{', '.join(opened.task_scope) or 'no task'}",
    )
    return opened, token


def _open(
    ws: Workspace, *, agent_id: str, role_mode: RoleMode, task_scope: list[str], ttl: timedelta, by: str
) -> tuple[Session, str]:
    token = store.new_token()
    opened = Session(
        id=store.new_id(),
        agent_id=agent_id,
        role_mode=role_mode,
        task_scope=list(dict.fromkeys(task_scope)),
        token_sha256=store.token_hash(token),
        created_by=by,
        created_at=now(),
        expires_at=store.expiry(ttl),
    )
    with store.editing(ws) as roster:
        roster.sessions.append(opened)
    return opened, token


def _proves_agent(ws: Workspace, agent_id: str, key: str | None) -> None:
    """Refuse unless ``key`` is ``agent_id``'s agent key (the key never appears in the refusal)."""
    agent = agents.get(ws, agent_id)
    issue = f"a member issues one with `aios agent key {agent_id}` and hands it to the agent"
    if agent.key_sha256 is None:
        raise PermissionDenied(
            f"agent {agent_id} has no agent key, so it opens no session by itself",
            rule="agent-key",
            fix=f"{issue}; or a member opens its session: `aios session create --agent {agent_id} ...`",
        )
    if not (key or "").strip():
        raise PermissionDenied(
            f"opening a session as agent {agent_id} needs its agent key",
            rule="agent-key",
            fix=f"pass agent_key: the key agent_register returned; lost, {issue}",
        )
    if not key_matches(agent, key or ""):
        raise PermissionDenied(
            f"the agent key is not agent {agent_id}'s",
            rule="agent-key",
            fix=f"pass the key agent_register returned for {agent_id}; lost, {issue}",
        )


def _within_grant(ws: Workspace, agent_id: str, role_mode: RoleMode, task_scope: list[str]) -> None:
    agent = agents.get(ws, agent_id)
    if agent.state is not AgentState.ACTIVE:
        raise PermissionDenied(
            f"agent {agent_id} is {agent.state.value}; it opens no session",
            rule="grant",
            fix=f"a member approves it first: `aios agent approve {agent_id} --role-modes ...`",
        )
    if role_mode not in agent.role_modes:
        granted = ", ".join(m.value for m in agent.role_modes)
        raise PermissionDenied(
            f"agent {agent_id} may work in {granted} mode, not {role_mode.value}",
            rule="grant",
            fix=f"pick one of {granted}, or widen it: `aios agent approve {agent_id} --role-modes ...`",
        )
    for tid in task_scope:
        task = tasks.get(ws, tid)
        if agent.queues is not None and task.queue not in agent.queues:
            raise PermissionDenied(
                f"{tid} is in the {task.queue} queue, outside agent {agent_id}'s grant "
                f"({', '.join(agent.queues)})",
                rule="grant",
                fix=f"leave {tid} out of the scope, or widen the grant: "
                f"`aios agent approve {agent_id} --queues ...`",
            )


def terminate(
    ws: Workspace,
    target: str,
    *,
    reason: str,
    actor: str,
    session: Session | None = None,
    escalation: str | None = None,
) -> Session:
    """End the session ``target`` (its token or its id) at once.

    A member ends any session; an agent ends only its own. ``escalation``: the id of an
    agent-misbehavior escalation nobody answered, at its ``terminate-session`` step: the matrix
    authorises it then (``actor`` is ``MATRIX_ACTOR``).

    Raises:
        PermissionDenied: the actor may not.
        StateError: no such session.
    """
    found = _find(ws, target)
    with audited(ws, actor=actor, what=f"terminate session {found.id}", session=session):
        if escalation is not None:
            escalations.require_final_action(ws, escalation, escalations.FinalAction.TERMINATE_SESSION)
        else:
            decide(ws, Op.TERMINATE_SESSION, actor=actor, session=session)
        if session is not None and found.id != session.id:
            raise PermissionDenied(
                f"{actor} may end only its own session, not {found.id}",
                rule="own-session",
                fix="a human member terminates other sessions",
            )
    with store.editing(ws) as roster:
        held = roster.by_id(found.id)
        if held is not None and held.state is SessionState.ACTIVE:
            store.stamp_terminated(held, by=actor, reason=reason)
            found = held
    append_governance(ws, f"session {found.id} of {found.actor} terminated by {actor} · {reason}")
    return found


def _find(ws: Workspace, target: str) -> Session:
    roster = store.load(ws)
    is_token = target.startswith(store.TOKEN_PREFIX)
    found = roster.by_token(target) if is_token else roster.by_id(target)
    if found is None:
        raise StateError(
            "no session has that token" if is_token else f"no session {target!r}",
            file=ws.rel(ws.sessions_file),
            fix="`aios session list` shows the sessions and their ids",
        )
    return found


def lookup(ws: Workspace, token: str, *, claimed: str | None = None) -> Session:
    """The live session whose token is ``token``; ``claimed`` is who the caller also says it is.

    Raises:
        PermissionDenied: an unknown, terminated or expired session, or one that belongs to another
            actor than ``claimed`` (each audited in the governance log; the token never is).
    """
    found = store.load(ws).by_token(token.strip())
    try:
        if found is None:
            raise PermissionDenied(
                "the session token is not known here",
                rule="session",
                fix="check --session / AIOS_SESSION; a member creates a session: `aios session create ...`",
            )
        require_live(ws, found)
        if claimed is not None and claimed != found.actor:
            raise PermissionDenied(
                f"--actor says {claimed!r} but the session belongs to {found.actor}",
                rule="session",
                fix="leave out --actor (AIOS_ACTOR) when acting through a session",
            )
    except PermissionDenied as exc:
        who = found.actor if found else "an unknown session"
        append_governance(ws, f"violation · by {who} · refused (session): {exc.message}")
        raise
    return found


def listing(ws: Workspace, *, live_only: bool = False) -> list[dict[str, object]]:
    """Each session, without its token hash: id, agent, mode, scope, state (``expired`` shown), times."""
    rows = []
    for s in store.load(ws).sessions:
        state = "expired" if s.state is SessionState.ACTIVE and s.expired() else s.state.value
        if live_only and state != "active":
            continue
        rows.append(
            {
                "session_id": s.id,
                "agent_id": s.agent_id,
                "role_mode": s.role_mode.value,
                "task_scope": s.task_scope,
                "state": state,
                "created_by": s.created_by,
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "terminated_by": s.terminated_by,
                "terminated_at": s.terminated_at,
                "reason": s.reason,
            }
        )
    return rows


@contextmanager
def builtin(ws: Workspace, agent_id: str, *, role_mode: RoleMode, task_id: str, by: str) -> Iterator[Session]:
    """A session for the workflow's own builder or reviewer on one task, ended when the block ends."""
    agents.builtin(ws, agent_id)
    opened, _ = _open(
        ws, agent_id=agent_id, role_mode=role_mode, task_scope=[task_id], ttl=DEFAULT_TTL, by=by
    )
    try:
        yield opened
    finally:
        with store.editing(ws) as roster:
            held = roster.by_id(opened.id)
            if held is not None and held.state is SessionState.ACTIVE:
                store.stamp_terminated(held, by=by, reason="run step ended")
