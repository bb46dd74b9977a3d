"""Agents: a human registers one with what it may ever do; one that asks by itself waits for approval.

The operating model's lifecycle: register (an agent id), open a session with a role mode and a
task scope inside the agent's grant (``governance.sessions``), work, terminate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.errors import ConfigError, PermissionDenied, StateError
from orchestrator.governance.authority import audited, decide
from orchestrator.governance.matrix import Op
from orchestrator.redact import redact
from orchestrator.state import agents as store
from orchestrator.state import sessions as session_store
from orchestrator.state.agents import Agent, AgentState
from orchestrator.state.audit import append_governance
from orchestrator.state.records import now
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

#: The role modes a built-in agent holds.
_BUILTIN_MODES = {
    "builder": [RoleMode.BUILDER, RoleMode.EXECUTOR],
    "reviewer": [RoleMode.REVIEWER],
}


def parse_modes(text: str | list[str]) -> list[RoleMode]:
    """``builder,executor`` (or a list of names) as role modes.

    Raises:
        ConfigError: an unknown mode, naming the known ones.
    """
    names = text.split(",") if isinstance(text, str) else [n for part in text for n in part.split(",")]
    modes: list[RoleMode] = []
    for name in (n.strip() for n in names):
        try:
            mode = RoleMode(name)
        except ValueError:
            known = ", ".join(m.value for m in RoleMode)
            raise ConfigError(
                f"unknown role mode {name!r}", field="--role-modes", fix=f"use {known}"
            ) from None
        if mode not in modes:
            modes.append(mode)
    if not modes:
        raise ConfigError(
            "no role mode given", field="--role-modes", fix="e.g. --role-modes builder,executor"
        )
    return modes


def register(
    ws: Workspace,
    name: str,
    *,
    role_modes: list[RoleMode],
    queues: list[str] | None,
    actor: str,
    session: Session | None = None,
) -> Agent:
    """A member registers an agent: active at once, with this grant.

    Raises:
        PermissionDenied: the actor may not register agents (an L2 lead or higher may).
        ConfigError: an unknown queue.
    """
    with audited(ws, actor=actor, what=f"register agent {name!r}", session=session):
        decide(ws, Op.REGISTER_AGENT, actor=actor, session=session)
    agent = _enrol(ws, name, role_modes=role_modes, queues=queues, by=actor, approved=True)
    append_governance(ws, f"agent {agent.id} registered by {actor} · {_grant(agent)}")
    return agent


def request(
    ws: Workspace, name: str, *, role_modes: list[RoleMode], queues: list[str] | None, via: str
) -> Agent:
    """An agent asks to join by itself: ``pending`` until a member approves it (``join`` without
    its key: such an agent opens a session only once a member issues one, ``issue_key``)."""
    return join(ws, name, role_modes=role_modes, queues=queues, via=via)[0]


def join(
    ws: Workspace, name: str, *, role_modes: list[RoleMode], queues: list[str] | None, via: str
) -> tuple[Agent, str]:
    """An agent asks to join by itself (over MCP): ``pending`` until a member approves it.

    Returns the agent and its agent key, shown once (the file keeps its hash): opening a session
    by itself later (``sessions.request``) takes the key, so no other local process can open one
    in its name.
    """
    key = store.new_key()
    agent = _enrol(
        ws, name, role_modes=role_modes, queues=queues, by=f"self ({via})", approved=False, key=key
    )
    append_governance(ws, f"agent {agent.id} asked to join ({via}), pending approval · {_grant(agent)}")
    return agent, key


def issue_key(
    ws: Workspace, agent_id: str, *, actor: str, session: Session | None = None
) -> tuple[Agent, str]:
    """A member issues ``agent_id`` a new agent key (an L2 lead or higher); any old key stops working.

    Returns the agent and the key, shown once. An agent a member registered has no key until then,
    so it opens sessions only through a member (``aios session create``), not by itself over MCP.

    Raises:
        PermissionDenied: the actor may not approve agents, or the agent is built in.
        StateError: no such agent.
    """
    with audited(ws, actor=actor, what=f"issue an agent key to {agent_id}", session=session):
        decide(ws, Op.APPROVE_AGENT, actor=actor, session=session)
        _refuse_builtin(get(ws, agent_id), "issue a key to")
    key = store.new_key()
    with store.editing(ws) as roster:
        agent = _get(ws, roster, agent_id)
        replaced = agent.key_sha256 is not None
        agent.key_sha256 = store.key_hash(key)
    append_governance(ws, f"agent key {'replaced' if replaced else 'issued'} for agent {agent.id} by {actor}")
    return agent, key


def _enrol(
    ws: Workspace,
    name: str,
    *,
    role_modes: list[RoleMode],
    queues: list[str] | None,
    by: str,
    approved: bool,
    key: str | None = None,
) -> Agent:
    """Add an agent with a new id: active (registered by a member) or pending (asked by itself)."""
    _check_queues(ws, queues)
    stamp = now()
    with store.editing(ws) as roster:
        agent = Agent(
            id=store.new_id(roster, name),
            name=redact(name),
            state=AgentState.ACTIVE if approved else AgentState.PENDING,
            role_modes=role_modes,
            queues=queues,
            registered_by=by,
            registered_at=stamp,
            approved_by=by if approved else None,
            approved_at=stamp if approved else None,
            key_sha256=store.key_hash(key) if key else None,
        )
        roster.agents.append(agent)
    return agent


def approve(
    ws: Workspace,
    agent_id: str,
    *,
    role_modes: list[RoleMode],
    queues: list[str] | None,
    actor: str,
    session: Session | None = None,
) -> Agent:
    """A member approves a pending agent (or changes an agent's grant) with this grant.

    Raises:
        PermissionDenied: the actor may not approve agents.
        StateError: no such agent.
    """
    with audited(ws, actor=actor, what=f"approve agent {agent_id}", session=session):
        decide(ws, Op.APPROVE_AGENT, actor=actor, session=session)
        _refuse_builtin(get(ws, agent_id), "approve")
    _check_queues(ws, queues)
    with store.editing(ws) as roster:
        agent = _get(ws, roster, agent_id)
        agent.state, agent.role_modes, agent.queues = AgentState.ACTIVE, role_modes, queues
        agent.approved_by, agent.approved_at = actor, now()
    append_governance(ws, f"agent {agent.id} approved by {actor} · {_grant(agent)}")
    return agent


def revoke(ws: Workspace, agent_id: str, *, actor: str, reason: str, session: Session | None = None) -> Agent:
    """A member revokes an agent: its live sessions end at once and it opens no new one."""
    with audited(ws, actor=actor, what=f"revoke agent {agent_id}", session=session):
        decide(ws, Op.APPROVE_AGENT, actor=actor, session=session)
        _refuse_builtin(get(ws, agent_id), "revoke")
    with store.editing(ws) as roster:
        agent = _get(ws, roster, agent_id)
        agent.state = AgentState.REVOKED
    with session_store.editing(ws) as held:
        for session in held.sessions:
            if session.agent_id == agent_id and session.live():
                session_store.stamp_terminated(session, by=actor, reason=f"agent revoked: {reason}")
    append_governance(ws, f"agent {agent.id} revoked by {actor} · {reason}")
    return agent


def listing(ws: Workspace) -> list[Agent]:
    return store.load(ws).agents


def builtin(ws: Workspace, agent_id: str) -> Agent:
    """The workflow's own builder or reviewer agent, registered on first use."""
    roster = store.load(ws)
    if (agent := roster.get(agent_id)) is not None:
        return agent
    with store.editing(ws) as roster:
        if (agent := roster.get(agent_id)) is None:
            stamp = now()
            agent = Agent(
                id=agent_id,
                name=f"aios built-in {agent_id}",
                state=AgentState.ACTIVE,
                role_modes=_BUILTIN_MODES[agent_id],
                registered_by="aios",
                registered_at=stamp,
                approved_by="aios",
                approved_at=stamp,
                builtin=True,
            )
            roster.agents.append(agent)
    return agent


def get(ws: Workspace, agent_id: str) -> Agent:
    """The agent ``agent_id``.

    Raises:
        StateError: no such agent.
    """
    return _get(ws, store.load(ws), agent_id)


def _get(ws: Workspace, roster: store.AgentsFile, agent_id: str) -> Agent:
    agent = roster.get(agent_id)
    if agent is None:
        known = ", ".join(a.id for a in roster.agents) or "none yet"
        raise StateError(
            f"no agent {agent_id!r}",
            file=ws.rel(ws.agents_file),
            fix=f"use a registered agent id ({known}); `aios agent list` shows them",
        )
    return agent


def _refuse_builtin(agent: Agent, doing: str) -> None:
    if agent.builtin:
        raise PermissionDenied(
            f"{agent.id} is aios's built-in agent; its grant is fixed",
            rule="grant",
            fix=f"{doing} a registered agent instead",
        )


def _check_queues(ws: Workspace, queues: list[str] | None) -> None:
    for name in queues or []:
        if name not in ws.project.queues:
            raise ConfigError(
                f"unknown queue {name!r}",
                field="--queues",
                fix=f"use {', '.join(ws.project.queues)} (defined in {ws.rel(ws.project_file)})",
            )


def _grant(agent: Agent) -> str:
    queues = ", ".join(agent.queues) if agent.queues is not None else "every queue"
    return f"role modes {', '.join(m.value for m in agent.role_modes)}; queues {queues}"


#: An agent whose id or name starts with one of these is a test agent (``test-bot``, ``Test runner``).
TEST_PREFIXES = ("test", "tmp", "demo")


def prune(
    ws: Workspace, *, actor: str, stale_days: int = 30, dry_run: bool = False, session: Session | None = None
) -> dict[str, str]:
    """Revoke test agents and stale ones (no session opened for ``stale_days``), ending their live
    sessions; returns agent id -> why. Revoked, not deleted: the trails and sessions name them.

    Raises:
        PermissionDenied: the actor may not prune agents (an L2 lead or higher may).
    """
    with audited(ws, actor=actor, what="prune agents", session=session):
        decide(ws, Op.PRUNE_AGENTS, actor=actor, session=session)
    found = prunable(ws, stale_days)
    if dry_run or not found:
        return found
    with store.editing(ws) as roster:
        for agent in roster.agents:
            if agent.id in found:
                agent.state = AgentState.REVOKED
    with session_store.editing(ws) as held:
        for s in held.sessions:
            if s.agent_id in found and s.live():
                session_store.stamp_terminated(s, by=actor, reason=f"agent pruned: {found[s.agent_id]}")
    for agent_id, why in found.items():
        append_governance(ws, f"agent {agent_id} revoked by {actor} · pruned: {why}")
    return found


def prunable(ws: Workspace, stale_days: int = 30, *, at: datetime | None = None) -> dict[str, str]:
    """The agents ``prune`` would revoke at ``at`` (default now): agent id -> why."""
    cutoff = (at or datetime.now(UTC)) - timedelta(days=stale_days)
    last: dict[str, datetime] = {}
    for s in session_store.load(ws).sessions:
        opened = session_store.parse_time(s.created_at)
        last[s.agent_id] = max(last.get(s.agent_id, opened), opened)
    found: dict[str, str] = {}
    for agent in store.load(ws).agents:
        if agent.builtin or agent.state is AgentState.REVOKED:
            continue
        if agent.id.startswith(TEST_PREFIXES) or agent.name.lower().startswith(TEST_PREFIXES):
            found[agent.id] = "a test agent"
            continue
        seen = last.get(agent.id, session_store.parse_time(agent.registered_at))
        if seen < cutoff:
            found[agent.id] = f"no session opened for more than {stale_days} days"
    return found
