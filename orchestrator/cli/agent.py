"""``aios agent register|key|approve|revoke|list`` and ``aios session create|terminate|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, console, print_json, safe, usage_error

agent_app = typer.Typer(help="Register agents and grant what they may ever do.", no_args_is_help=True)
session_app = typer.Typer(help="Agent sessions: the only way an agent acts.", no_args_is_help=True)

RoleModes = Annotated[
    str,
    typer.Option("--role-modes", help="Comma-separated: architect, planner, executor, builder, reviewer."),
]
Queues = Annotated[
    str | None,
    typer.Option("--queues", help="Comma-separated queues its sessions may work in (default: every queue)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(agent_app, name="agent")
    app.add_typer(session_app, name="session")


def _queues(text: str | None) -> list[str] | None:
    return [q.strip() for q in text.split(",") if q.strip()] if text else None


@agent_app.command("register")
def register_agent(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name.")],
    role_modes: RoleModes,
    queues: Queues = None,
    issue_key: Annotated[
        bool,
        typer.Option(
            "--issue-key",
            help="Also issue its agent key (printed once), so it can open sessions by itself over MCP.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register an agent with its grant (an L2 lead or higher); prints its agent id."""
    from orchestrator.governance import agents

    cli = state(ctx)
    ws = cli.workspace()
    agent = agents.register(
        ws,
        name,
        role_modes=agents.parse_modes(role_modes),
        queues=_queues(queues),
        actor=cli.who(),
        session=cli.session(),
    )
    key = agents.issue_key(ws, agent.id, actor=cli.who(), session=cli.session())[1] if issue_key else None
    if as_json:
        print_json({"agent_id": agent.id}, reveal={"agent_key": key} if key else None)
        return
    typer.echo(agent.id)
    if key:
        _print_key(agent.id, key)
    typer.echo(
        f"registered {agent.actor}; open a session for it with "
        f"`aios session create --agent {agent.id} --role-mode MODE --task-scope TASK_ID`",
        err=True,
    )


@agent_app.command("key")
def issue_agent_key(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="The agent id.")],
    as_json: JsonFlag = False,
) -> None:
    """Issue an agent a new agent key (an L2 lead or higher), printed once; any old key stops working.

    The agent passes it as `agent_key` to `session_create` over MCP: without it, no process can open
    a session in the agent's name.
    """
    from orchestrator.governance import agents

    cli = state(ctx)
    agent, key = agents.issue_key(cli.workspace(), agent_id, actor=cli.who(), session=cli.session())
    if as_json:
        print_json({"agent_id": agent.id}, reveal={"agent_key": key})
    else:
        _print_key(agent.id, key)


def _print_key(agent_id: str, key: str) -> None:
    # The key goes to stdout alone (for a pipe or a secret store); the note to stderr.
    typer.echo(key)
    typer.echo(
        f"the agent key of {agent_id}, shown once (aios keeps only its hash): give it to the agent, "
        "which passes it as agent_key to session_create over MCP",
        err=True,
    )


@agent_app.command("approve")
def approve_agent(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="The agent id.")],
    role_modes: RoleModes,
    queues: Queues = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a pending agent, or change an agent's grant (an L2 lead or higher)."""
    from orchestrator.governance import agents

    cli = state(ctx)
    agent = agents.approve(
        cli.workspace(),
        agent_id,
        role_modes=agents.parse_modes(role_modes),
        queues=_queues(queues),
        actor=cli.who(),
        session=cli.session(),
    )
    if as_json:
        print_json({"agent_id": agent.id, "state": agent.state.value})
    else:
        typer.echo(f"{agent.id}: {agent.state.value}")


@agent_app.command("revoke")
def revoke_agent(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="The agent id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the governance log).")],
) -> None:
    """Revoke an agent: its live sessions end at once and it opens no new one."""
    from orchestrator.governance import agents

    cli = state(ctx)
    agent = agents.revoke(cli.workspace(), agent_id, actor=cli.who(), reason=reason, session=cli.session())
    typer.echo(f"{agent.id}: {agent.state.value}")


@agent_app.command("prune")
def prune_agents(
    ctx: typer.Context,
    stale_days: Annotated[
        int, typer.Option("--stale-days", min=1, help="Stale: no session opened for this many days.")
    ] = 30,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be pruned; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Revoke test agents (id or name starting test, tmp, demo) and stale ones, ending their sessions."""
    from orchestrator.governance import agents

    cli = state(ctx)
    found = agents.prune(
        cli.workspace(), actor=cli.who(), stale_days=stale_days, dry_run=dry_run, session=cli.session()
    )
    if as_json:
        print_json({"pruned": found, "dry_run": dry_run})
        return
    verb = "would revoke" if dry_run else "revoked"
    for agent_id, why in found.items():
        typer.echo(f"{agent_id}: {verb} ({safe(why)})")
    if not found:
        typer.echo("No test or stale agents.")


@agent_app.command("list")
def list_agents(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The registered agents, their state and grant."""
    from orchestrator.governance import agents

    rows = [
        {
            "agent_id": a.id,
            "name": a.name,
            "state": a.state.value,
            "role_modes": [m.value for m in a.role_modes],
            "queues": a.queues,
            "registered_by": a.registered_by,
            "registered_at": a.registered_at,
            "approved_by": a.approved_by,
            "builtin": a.builtin,
        }
        for a in agents.listing(state(ctx).workspace())
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("No agents.")
        return
    from rich.table import Table

    table = Table("agent", "state", "role modes", "queues", "registered by", box=None, pad_edge=False)
    for r in rows:
        table.add_row(
            safe(r["agent_id"], markup=True),
            str(r["state"]),
            ", ".join(r["role_modes"]),  # type: ignore[arg-type]
            safe(", ".join(r["queues"]) if r["queues"] is not None else "all", markup=True),  # type: ignore[arg-type]
            safe(r["registered_by"], markup=True),
        )
    console().print(table)


@session_app.command("create")
def create_session(
    ctx: typer.Context,
    agent: Annotated[str, typer.Option("--agent", help="The agent id.")],
    role_mode: Annotated[str, typer.Option("--role-mode", help="One of the agent's role modes.")],
    task_scope: Annotated[
        list[str] | None,
        typer.Option("--task-scope", help="Tasks the session may work on: --task-scope T1 T2, or repeat it."),
    ] = None,
    more_scope: Annotated[
        list[str] | None, typer.Argument(help="More task ids for --task-scope.", show_default=False)
    ] = None,
    ttl: Annotated[str, typer.Option("--ttl", help="How long it lives: 30m, 8h, 2d.")] = "8h",
    as_json: JsonFlag = False,
) -> None:
    """Open a session for an agent; prints its token once (it is stored only as a hash)."""
    from orchestrator.governance import agents, sessions
    from orchestrator.state.sessions import parse_ttl

    cli = state(ctx)
    try:
        lifetime = parse_ttl(ttl)
    except ValueError as exc:
        raise usage_error(ctx, f"--ttl: {exc}") from None
    mode = agents.parse_modes(role_mode)
    if len(mode) != 1:
        raise usage_error(ctx, "--role-mode takes one mode")
    scope = [t for item in [*(task_scope or []), *(more_scope or [])] for t in item.replace(",", " ").split()]
    opened, token = sessions.create(
        cli.workspace(),
        agent_id=agent,
        role_mode=mode[0],
        task_scope=scope,
        ttl=lifetime,
        actor=cli.who(),
        session=cli.session(),
    )
    if as_json:
        # Key order as documented: session_id, token, expires_at.
        print_json({"session_id": opened.id}, reveal={"token": token, "expires_at": opened.expires_at})
        return
    typer.echo(token)
    typer.echo(
        f"session {opened.id} for {opened.actor} in {opened.role_mode.value} mode on "
        f"{', '.join(opened.task_scope) or 'no task'}, until {opened.expires_at}.\n"
        "The token is shown only now: give it to the agent as AIOS_SESSION.",
        err=True,
    )


@session_app.command("terminate")
def terminate_session(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="The session's token or id (SES-...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the governance log).")],
    as_json: JsonFlag = False,
) -> None:
    """End a session at once: its agent's next action is refused and its run stops."""
    from orchestrator.governance import sessions

    cli = state(ctx)
    ended = sessions.terminate(cli.workspace(), target, reason=reason, actor=cli.who(), session=cli.session())
    if as_json:
        print_json({"session_id": ended.id, "state": ended.state.value})
    else:
        typer.echo(f"{ended.id}: {ended.state.value}")


@session_app.command("list")
def list_sessions(
    ctx: typer.Context,
    live: Annotated[bool, typer.Option("--live", help="Only sessions that can still act.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The sessions: agent, role mode, scope, state (active, expired, terminated) and expiry."""
    from orchestrator.governance import sessions

    rows = sessions.listing(state(ctx).workspace(), live_only=live)
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("No sessions.")
        return
    from rich.table import Table

    table = Table("session", "agent", "mode", "scope", "state", "expires", box=None, pad_edge=False)
    for r in rows:
        table.add_row(
            str(r["session_id"]),
            safe(r["agent_id"], markup=True),
            str(r["role_mode"]),
            safe(", ".join(r["task_scope"]), markup=True),  # type: ignore[arg-type]
            str(r["state"]),
            str(r["expires_at"]),
        )
    console().print(table)
