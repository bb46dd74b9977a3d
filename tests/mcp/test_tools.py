"""The tools in-process: sessions refused when missing, expired, terminated or out of scope; every
role mode's refusals as the CLI's table has them; asking to join; the governance check.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import ready_task
from mcp import Client
from mcp_calls import call, refused, reviewable_task

from orchestrator.governance import agents, sessions
from orchestrator.governance.matrix import AGENT, Op
from orchestrator.state import tasks
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

pytestmark = pytest.mark.anyio


def open_session(
    ws: Workspace, mode: RoleMode, scope: list[str], ttl: timedelta = sessions.DEFAULT_TTL
) -> str:
    """A token of agent ``bot-<mode>`` (registered by alice) in ``mode`` on ``scope``."""
    agent_id = f"bot-{mode.value}"
    if agents.store.load(ws).get(agent_id) is None:
        agents.register(ws, agent_id, role_modes=[mode], queues=None, actor="alice")
    _, token = sessions.create(
        ws, agent_id=agent_id, role_mode=mode, task_scope=scope, ttl=ttl, actor="alice"
    )
    return token


def governance_log(ws: Workspace) -> str:
    return ws.governance_log.read_text() if ws.governance_log.exists() else ""


def trail(ws: Workspace, tid: str) -> str:
    return ws.audit_file(tid).read_text()


# ---- sessions: none, expired, terminated, out of scope ----


async def test_a_call_without_a_session_is_refused_and_audited(ws: Workspace, server) -> None:
    tid = ready_task(ws)
    async with Client(server) as agent:
        text = await refused(agent, "task_status", session_token="", task_id=tid)
        missing = await agent.call_tool("task_status", {"task_id": tid})
    assert text.startswith("Error executing tool task_status: refused by rule 'session':")
    assert "the session token is not known here" in text
    assert "refused (session): the session token is not known here" in governance_log(ws)
    assert missing.is_error and "session_token" in missing.content[0].text  # the schema requires it


async def test_an_expired_session_is_refused(ws: Workspace, server) -> None:
    tid = ready_task(ws)
    token = open_session(ws, RoleMode.BUILDER, [tid], ttl=timedelta(seconds=-1))
    async with Client(server) as agent:
        text = await refused(agent, "task_start", session_token=token, task_id=tid)
    assert "refused by rule 'session'" in text and "expired at" in text
    assert tasks.get(ws, tid).status.value == "ready"
    assert "refused (session)" in governance_log(ws)


async def test_a_session_a_member_terminated_is_refused_at_once(ws: Workspace, server) -> None:
    tid = ready_task(ws)
    token = open_session(ws, RoleMode.BUILDER, [tid])
    async with Client(server) as agent:
        await call(agent, "task_status", session_token=token, task_id=tid)
        sessions.terminate(ws, token, reason="misbehaving", actor="alice")
        text = await refused(agent, "task_start", session_token=token, task_id=tid)
    assert "refused by rule 'session'" in text and "terminated by alice (misbehaving)" in text
    assert tasks.get(ws, tid).status.value == "ready"


async def test_a_task_outside_the_scope_is_refused_and_on_its_trail(ws: Workspace, server) -> None:
    mine, other = ready_task(ws), ready_task(ws)
    token = open_session(ws, RoleMode.BUILDER, [mine])
    async with Client(server) as agent:
        start = await refused(agent, "task_start", session_token=token, task_id=other)
        read = await refused(agent, "task_status", session_token=token, task_id=other)
    for text in (start, read):
        assert "refused by rule 'task-scope'" in text and f"{other} is outside the task scope" in text
    assert "refused (task-scope): start" in trail(ws, other)
    assert tasks.get(ws, other).status.value == "ready"


# ---- role modes: the CLI's table, over MCP ----

#: tool -> (the operation the matrix names, the status the task is brought to, extra arguments).
TOOLS: dict[str, tuple[Op, str | None, dict]] = {
    "task_status": (Op.READ, "ready", {}),
    "task_start": (Op.START, "ready", {}),
    "task_finish": (Op.FINISH, "running", {}),
    "review_submit": (Op.SUBMIT, "running", {}),
    "review_approve": (Op.MERGE, "running", {}),
    "task_create": (
        Op.CREATE_TASK,
        None,
        {"queue": "dev", "title": "Split it", "criterion": [{"text": "ok"}]},
    ),
}


@pytest.mark.parametrize("mode", list(RoleMode), ids=lambda m: m.value)
@pytest.mark.parametrize("tool", list(TOOLS))
async def test_each_role_mode_is_refused_what_the_matrix_refuses(
    ws: Workspace, server, mode: RoleMode, tool: str
) -> None:
    op, status, extra = TOOLS[tool]
    tid = reviewable_task(
        ws, mode=RoleMode.BUILDER if mode is RoleMode.REVIEWER else mode
    )  # reviewers review any
    if status == "running":
        from orchestrator.governance import actions

        actions.transition(ws, tid, "start", actor="alice")
    token = open_session(ws, mode, [tid])
    args = {"session_token": token, **({"task_id": tid} if status else {}), **extra}
    async with Client(server) as agent:
        result = await agent.call_tool(tool, args)
    text = result.content[0].text if result.is_error else ""
    if op in AGENT[mode]:
        assert "refused by rule" not in text, text
    else:
        assert (
            f"refused by rule 'role-mode': agent:bot-{mode.value}'s session is in {mode.value} mode" in text
        )
        where = trail(ws, tid) if status else governance_log(ws)
        assert f"refused (role-mode): {op.value if status else 'create a task'}" in where


async def test_review_approve_always_refuses_an_agent_and_names_the_human(ws: Workspace, server) -> None:
    tid = reviewable_task(ws)
    token = open_session(ws, RoleMode.REVIEWER, [tid])
    async with Client(server) as agent:
        text = await refused(agent, "review_approve", session_token=token, task_id=tid)
    assert "may not approve a merge" in text and "only a human member may do the rest" in text


async def test_a_planner_session_creates_a_task_in_the_inbox(ws: Workspace, server) -> None:
    token = open_session(ws, RoleMode.PLANNER, [])
    criterion = [{"text": "mul multiplies", "check": "pytest -q"}, {"text": "documented"}]
    async with Client(server) as agent:
        made = await call(
            agent, "task_create", session_token=token, queue="dev", title="Add mul", criterion=criterion,
            path=["src/"], priority=2,
        )  # fmt: skip
        bad = await refused(
            agent, "task_create", session_token=token, queue="nope", title="x", criterion=criterion
        )
    assert made == {"id": "TASK_DEV_0001", "status": "inbox", "card": "tasks/inbox/TASK_DEV_0001.md"}
    task = tasks.get(ws, made["id"])
    assert (task.priority, task.events[0].actor) == (2, "agent:bot-planner")
    assert "unknown queue 'nope'" in bad


# ---- joining: pending until a member approves ----


async def test_an_agent_asks_to_join_and_waits_for_a_member(ws: Workspace, server) -> None:
    tid = ready_task(ws)
    async with Client(server) as agent:
        joined = await call(agent, "agent_register", name="Codex", role_modes=["reviewer"])
        key = joined["agent_key"]
        early = await refused(
            agent, "review_create_session", agent_id="codex", task_scope=[tid], agent_key=key
        )
        agents.approve(ws, "codex", role_modes=[RoleMode.REVIEWER], queues=None, actor="alice")
        opened = await call(agent, "review_create_session", agent_id="codex", task_scope=[tid], agent_key=key)
        wider = await refused(
            agent, "session_create", agent_id="codex", role_mode="builder", task_scope=[tid], agent_key=key
        )
    assert joined["state"] == "pending" and "aios agent approve codex" in joined["next"]
    assert "refused by rule 'grant'" in early and "pending" in early
    assert opened["role_mode"] == "reviewer" and opened["token"].startswith("aios_st_")
    assert "refused by rule 'grant'" in wider and "not builder" in wider
    log = governance_log(ws)
    assert "agent codex asked to join (MCP), pending approval" in log
    assert f"opened by itself (MCP) in reviewer mode on {tid}" in log
    assert opened["token"] not in log


# ---- governance_check: asks, changes nothing ----


async def test_governance_check_answers_for_the_action_and_the_paths(ws: Workspace, server) -> None:
    tid = reviewable_task(ws)
    token = open_session(ws, RoleMode.BUILDER, [tid])
    before = trail(ws, tid)
    paths = ["src/calc.py", "docs/readme.md", "tests/../state/project.yaml", "state/tasks.yaml"]
    async with Client(server) as agent:
        start = await call(agent, "governance_check", session_token=token, action="start", task_id=tid)
        merge = await call(agent, "governance_check", session_token=token, action="merge", task_id=tid)
        out = await call(
            agent, "governance_check", session_token=token, action="write_code", task_id=tid, paths=paths
        )
    assert (start["allowed"], start["rule"]) == (True, None)
    assert (merge["allowed"], merge["rule"]) == (False, "role-mode")
    verdicts = {p["path"]: (p["in_scope"], p["canon"], p["allowed"]) for p in out["paths"]["paths"]}
    assert verdicts["src/calc.py"] == (True, False, True)
    assert verdicts["docs/readme.md"] == (False, False, False)
    assert verdicts["state/tasks.yaml"] == (False, True, False)
    assert out["allowed"] is False and len(out["paths"]["problems"]) == 3
    assert trail(ws, tid) == before  # a question is not an attempt: nothing is recorded


# ---- agent keys: an agent id alone opens no session ----


async def test_session_create_needs_the_agent_key_agent_register_returned(ws: Workspace, server) -> None:
    tid = ready_task(ws)
    async with Client(server) as agent:
        joined = await call(agent, "agent_register", name="Codex", role_modes=["builder"])
        other = await call(agent, "agent_register", name="Other", role_modes=["builder"])
        agents.approve(ws, "codex", role_modes=[RoleMode.BUILDER], queues=None, actor="alice")
        args = {"agent_id": "codex", "role_mode": "builder", "task_scope": [tid]}
        none = await refused(agent, "session_create", **args)
        wrong = await refused(agent, "session_create", **args, agent_key="aios_ak_" + "x" * 43)
        theirs = await refused(agent, "session_create", **args, agent_key=other["agent_key"])
        review = await refused(agent, "review_create_session", agent_id="codex", task_scope=[tid])
        opened = await call(agent, "session_create", **args, agent_key=joined["agent_key"])
    key = joined["agent_key"]
    assert key.startswith("aios_ak_") and key != other["agent_key"]
    assert "refused by rule 'agent-key'" in none and "needs its agent key" in none
    assert "refused by rule 'agent-key'" in wrong and "is not agent codex's" in wrong
    assert "refused by rule 'agent-key'" in theirs and "refused by rule 'agent-key'" in review
    assert opened["agent_id"] == "codex" and opened["token"].startswith("aios_st_")
    log = governance_log(ws)
    assert log.count("refused (agent-key)") == 4  # every refusal audited
    for path in (ws.governance_log, ws.agents_file, ws.sessions_file):
        assert key not in path.read_text() and "x" * 43 not in path.read_text()
    assert agents.store.key_hash(key) in ws.agents_file.read_text()


async def test_an_agent_a_member_registered_opens_sessions_by_itself_only_once_issued_a_key(
    ws: Workspace, server
) -> None:
    tid = ready_task(ws)
    agents.register(ws, "bot", role_modes=[RoleMode.BUILDER], queues=None, actor="alice")
    agents.builtin(ws, "builder")
    args = {"role_mode": "builder", "task_scope": [tid]}
    async with Client(server) as agent:
        keyless = await refused(
            agent, "session_create", agent_id="bot", **args, agent_key="aios_ak_" + "y" * 43
        )
        builtin = await refused(agent, "session_create", agent_id="builder", **args)
        _, first = agents.issue_key(ws, "bot", actor="alice")
        _, second = agents.issue_key(ws, "bot", actor="alice")  # a new key replaces the old one
        old = await refused(agent, "session_create", agent_id="bot", **args, agent_key=first)
        opened = await call(agent, "session_create", agent_id="bot", **args, agent_key=second)
    assert "refused by rule 'agent-key'" in keyless and "has no agent key" in keyless
    assert "aios agent key bot" in keyless
    assert "refused by rule 'agent-key'" in builtin and "has no agent key" in builtin
    assert "refused by rule 'agent-key'" in old
    assert opened["agent_id"] == "bot"
