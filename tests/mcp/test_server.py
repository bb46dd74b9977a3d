"""``aios mcp`` as a real process: the whole lifecycle over stdio, and the HTTP transport on 127.0.0.1.

The agent's side is the SDK's ``Client``; the human's side is the real ``aios`` CLI. The review is
the static reviewer (evidence only, no model), so the verdicts follow from the acceptance check.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_aios
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_calls import BROKEN, FIXED, call, commit, refused, reviewable_task

from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state.workspace import Workspace

pytestmark = pytest.mark.anyio
SANDBOX = [] if bwrap_available() else ["--no-sandbox"]
#: What a stdio child gets (it inherits nothing else): git needs an identity for nothing here,
#: the review runs the project's checks with aios's own interpreter.
CHILD_ENV = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def server_params(ws: Workspace) -> StdioServerParameters:
    args = ["-m", "orchestrator", "--root", str(ws.root), "mcp", "--reviewer", "static", *SANDBOX]
    return StdioServerParameters(command=sys.executable, args=args, env=CHILD_ENV, cwd=str(ws.root))


def human(ws: Workspace, *args: str) -> dict:
    """A member (alice, the owner) acts through the real CLI; returns its --json output."""
    done = run_aios("--root", str(ws.root), *args, "--json", cwd=ws.root)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]


async def test_the_whole_lifecycle_over_stdio(ws: Workspace, tmp_path: Path) -> None:
    tid = reviewable_task(ws)
    errlog = (tmp_path / "server-stderr.log").open("w+")
    async with Client(stdio_client(server_params(ws), errlog=errlog)) as agent:
        joined = await call(agent, "agent_register", name="Claude Code", role_modes=["builder"])
        assert (joined["agent_id"], joined["state"]) == ("claude-code", "pending")
        key = joined["agent_key"]
        early = await refused(
            agent,
            "session_create",
            agent_id="claude-code",
            role_mode="builder",
            task_scope=[tid],
            agent_key=key,
        )
        assert "refused by rule 'grant'" in early and "pending" in early

        assert human(ws, "agent", "approve", "claude-code", "--role-modes", "builder")["state"] == "active"
        opened = await call(
            agent,
            "session_create",
            agent_id="claude-code",
            role_mode="builder",
            task_scope=[tid],
            agent_key=key,
        )
        token = opened["token"]
        assert token.startswith("aios_st_") and opened["task_scope"] == [tid]

        started = await call(agent, "task_start", session_token=token, task_id=tid)
        assert (started["status"], started["from"], started["branch"]) == ("running", "ready", f"task/{tid}")
        worktree = Path(started["worktree"])
        commit(worktree, BROKEN, "Add mul")

        first = await call(agent, "review_submit", session_token=token, task_id=tid)
        assert (first["verdict"], first["waiting_for"]) == ("NEEDS_REVISION", "builder"), first
        assert "check acceptance:AC1 failed" in first["reasons"]
        assert first["summary"].startswith("NEEDS_REVISION: fix the findings")
        report = await call(agent, "review_report", session_token=token, task_id=tid)
        assert (report["round"], report["verdict"]) == (1, "NEEDS_REVISION")

        commit(worktree, FIXED, "mul multiplies")
        second = await call(agent, "review_submit", session_token=token, task_id=tid)
        assert (second["verdict"], second["waiting_for"]) == ("APPROVED", "human_review"), second

        no = await refused(agent, "review_approve", session_token=token, task_id=tid)
        assert "refused by rule 'role-mode'" in no and "only a human member may" in no

        merged = human(ws, "review", "approve", tid)["merged"]
        assert merged == git.head(ws.root, "refs/heads/main")
        status = await call(agent, "task_status", session_token=token, task_id=tid)
        assert status["status"] == "done"

        ended = await call(agent, "session_terminate", session_token=token, reason="merged")
        assert ended == {"session_id": opened["session_id"], "state": "terminated"}
        for tool, args in _EVERY_CALL_WITH_A_TOKEN(tid):
            text = await refused(agent, tool, session_token=token, **args)
            assert "refused by rule 'session'" in text and "terminated" in text, (tool, text)

    errlog.seek(0)
    assert token not in errlog.read()  # nor in any file the workspace holds: state, ops, tasks, reports
    assert [p for p in files_under(ws.root) if token in p.read_text(errors="replace")] == []
    trail = (ws.root / "ops" / "audit" / f"{tid}.md").read_text()
    assert "agent:claude-code" in trail and "review_approve" not in trail
    assert "refused (role-mode): merge" in trail  # the refused approval is on the task's trail


def _EVERY_CALL_WITH_A_TOKEN(tid: str) -> list[tuple[str, dict]]:  # noqa: N802 - a table
    return [
        ("task_list", {}),
        ("task_status", {"task_id": tid}),
        ("task_start", {"task_id": tid}),
        ("task_finish", {"task_id": tid}),
        ("task_create", {"queue": "dev", "title": "x", "criterion": [{"text": "y"}]}),
        ("review_submit", {"task_id": tid}),
        ("review_status", {"task_id": tid}),
        ("review_report", {"task_id": tid}),
        ("review_approve", {"task_id": tid}),
        ("governance_check", {"action": "read", "task_id": tid}),
        ("session_terminate", {}),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "server exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"aios mcp --http did not listen on 127.0.0.1:{port}")


@pytest.fixture
def http_server(ws: Workspace, tmp_path: Path):
    """``aios mcp --http --port N`` as a real process; stopped by its PID. Yields (url, log path)."""
    port, log = free_port(), tmp_path / "http-server.log"
    with log.open("w") as err:
        argv = ["-m", "orchestrator", "--root", str(ws.root), "mcp", "--http", "--port", str(port)]
        proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, env={**os.environ, "AIOS_ACTOR": "alice"},
        )  # fmt: skip
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}/mcp", log
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


async def test_the_http_transport_answers_a_client_on_localhost(ws: Workspace, http_server) -> None:
    from helpers import ready_task

    from orchestrator.governance import agents, sessions
    from orchestrator.state.taskcard import RoleMode

    url, log = http_server
    tid = ready_task(ws)
    agents.register(ws, "codex", role_modes=[RoleMode.BUILDER], queues=None, actor="alice")
    _, token = sessions.create(
        ws, agent_id="codex", role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    async with Client(url) as agent:
        names = {t.name for t in (await agent.list_tools()).tools}
        assert {"agent_register", "session_create", "review_approve", "governance_check"} <= names
        status = await call(agent, "task_status", session_token=token, task_id=tid)
        assert (status["id"], status["status"]) == (tid, "ready")
        text = await refused(agent, "task_status", session_token="aios_st_" + "x" * 43, task_id=tid)
        assert "refused by rule 'session'" in text
    assert token not in log.read_text()


async def test_the_agent_key_over_stdio_opens_the_session_and_is_never_written(
    ws: Workspace, tmp_path: Path
) -> None:
    from helpers import ready_task

    tid = ready_task(ws)
    errlog = (tmp_path / "server-stderr.log").open("w+")
    async with Client(stdio_client(server_params(ws), errlog=errlog)) as agent:
        joined = await call(agent, "agent_register", name="Claude Code", role_modes=["builder"])
        key = joined["agent_key"]
        assert key.startswith("aios_ak_") and "agent_key" in joined["next"]
        human(ws, "agent", "approve", "claude-code", "--role-modes", "builder")
        args = {"agent_id": "claude-code", "role_mode": "builder", "task_scope": [tid]}
        # Another local process that knows only the agent id (or guesses a key) opens nothing.
        no_key = await refused(agent, "session_create", **args)
        guessed = await refused(agent, "session_create", **args, agent_key=key[:-4] + "AAAA")
        opened = await call(agent, "session_create", **args, agent_key=key)
        status = await call(agent, "task_status", session_token=opened["token"], task_id=tid)
    assert "refused by rule 'agent-key'" in no_key and "refused by rule 'agent-key'" in guessed
    assert key not in no_key + guessed
    assert status["status"] == "ready"
    errlog.seek(0)
    assert key not in errlog.read()
    assert [p for p in files_under(ws.root) if key in p.read_text(errors="replace")] == []
