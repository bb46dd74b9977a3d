"""``aios agent ...`` and ``aios session ...``: the contracts scripts call, and tokens kept secret."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import ready_task

from orchestrator.state.workspace import Workspace


def test_register_prints_the_agent_id(ws: Workspace, cli) -> None:
    done = cli(
        "agent", "register", "Claude Code", "--role-modes", "builder,executor", "--queues", "dev", "--json"
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"agent_id": "claude-code"}
    listed = json.loads(cli("agent", "list", "--json").stdout)
    assert listed[0]["agent_id"] == "claude-code" and listed[0]["role_modes"] == ["builder", "executor"]
    assert listed[0]["queues"] == ["dev"] and listed[0]["state"] == "active"


def test_an_operator_may_not_register_agents(ws: Workspace, cli) -> None:
    done = cli("agent", "register", "x", "--role-modes", "builder", actor="bob")
    assert done.exit_code == 1
    assert "needs an L2 project lead or higher" in done.output


def test_unknown_role_mode_names_the_known_ones(ws: Workspace, cli) -> None:
    done = cli("agent", "register", "x", "--role-modes", "builder,wizard")
    assert done.exit_code == 1
    assert "unknown role mode 'wizard'" in done.output and "architect, planner" in done.output


def test_session_create_json_keys_and_the_token_works_once_given(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    cli("agent", "register", "bot", "--role-modes", "builder")
    done = cli("session", "create", "--agent", "bot", "--role-mode", "builder", "--task-scope", tid, "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert list(out) == ["session_id", "token", "expires_at"] and out["token"].startswith("aios_st_")
    started = cli("--session", out["token"], "task", "start", tid, actor=None)
    assert started.exit_code == 0, started.output
    assert "by agent:bot (agent) · session " + out["session_id"] in ws.audit_file(tid).read_text()


def test_task_scope_takes_several_ids_after_one_flag(ws: Workspace, cli) -> None:
    one, two = ready_task(ws), ready_task(ws)
    cli("agent", "register", "bot", "--role-modes", "builder")
    done = cli(
        "session", "create", "--agent", "bot", "--role-mode", "builder", "--task-scope", one, two, "--json"
    )
    assert done.exit_code == 0, done.output
    listed = json.loads(cli("session", "list", "--json").stdout)
    assert listed[0]["task_scope"] == [one, two]


def test_terminate_by_token_or_id_and_the_session_is_refused(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    cli("agent", "register", "bot", "--role-modes", "builder")
    out = json.loads(
        cli(
            "session", "create", "--agent", "bot", "--role-mode", "builder", "--task-scope", tid, "--json"
        ).stdout
    )
    ended = cli("session", "terminate", out["session_id"], "--reason", "misbehaving", "--json", actor="bob")
    assert json.loads(ended.stdout) == {"session_id": out["session_id"], "state": "terminated"}
    refused = cli("--session", out["token"], "task", "start", tid, actor=None)
    assert refused.exit_code == 1 and "was terminated by bob (misbehaving)" in refused.output
    assert json.loads(cli("session", "list", "--json").stdout)[0]["state"] == "terminated"


def test_an_agent_actor_without_a_session_is_refused(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    done = cli("task", "start", tid, actor="agent:bot")
    assert done.exit_code == 1 and "acts only through a live session" in done.output
    assert "refused (session)" in ws.audit_file(tid).read_text()


def test_tokens_never_reach_state_logs_or_the_audit_trail(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    cli("agent", "register", "bot", "--role-modes", "builder")
    created = cli(
        "session", "create", "--agent", "bot", "--role-mode", "builder", "--task-scope", tid, "--json"
    )
    token = json.loads(created.stdout)["token"]
    outputs = [
        cli("-vv", "--session", token, "task", "start", tid, actor=None),
        cli(
            "-vv",
            "--session",
            token,
            "task",
            "new",
            "--queue",
            "dev",
            "--title",
            f"t {token}",
            "--criterion",
            "c",
            actor=None,
        ),
        cli("-vv", "--session", token, "task", "block", tid, "--reason", f"leaking {token}", actor=None),
        cli("--session", token + "x", "task", "list", actor=None),
        cli("session", "list", "--json"),
        cli("session", "terminate", token, "--reason", f"ends {token}"),
        cli("--session", token, "task", "status", tid, actor=None),
    ]
    for done in outputs:
        assert token not in done.output
    leaks = [p for p in ws.root.rglob("*") if p.is_file() and ".git" not in p.parts and token in _text(p)]
    assert leaks == []


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def test_an_agents_token_in_its_own_change_never_reaches_a_report_or_the_trail(ws: Workspace, cli) -> None:
    """An agent that pastes its token into code and a commit message, then submits it for review."""
    from orchestrator.sandbox import git
    from orchestrator.sandbox.bwrap import bwrap_available

    (ws.root / "README.md").write_text("demo\n")
    git.commit_all(ws.root, "initial")
    tid = ready_task(ws)
    cli("agent", "register", "bot", "--role-modes", "builder")
    created = cli(
        "session", "create", "--agent", "bot", "--role-mode", "builder", "--task-scope", tid, "--json"
    )
    token = json.loads(created.stdout)["token"]
    assert cli("--session", token, "task", "start", tid, actor=None).exit_code == 0
    worktree = git.ensure_worktree(ws.root, tid, "main")
    (worktree / "client.py").write_text(f'SESSION = "{token}"\n')
    git.commit_all(worktree, f"use my session {token}")
    sandbox = [] if bwrap_available() else ["--no-sandbox"]
    done = cli(
        "-v",
        "--session",
        token,
        "review",
        "submit",
        tid,
        "--reviewer",
        "static",
        *sandbox,
        "--json",
        actor=None,
    )
    assert done.exit_code in (0, 3, 4), done.output
    assert token not in done.output
    assert "agent:bot (agent)" in ws.audit_file(tid).read_text()
    reports = list(ws.reviews_dir(tid).glob("round-*"))
    assert reports
    leaks = [p for p in ws.root.rglob("*") if p.is_file() and ".git" not in p.parts and token in _text(p)]
    leaks = [p for p in leaks if ".aios" not in p.parts]  # the agent's own worktree holds its change
    assert leaks == []


def test_agent_key_is_printed_once_and_only_its_hash_is_kept(ws: Workspace, cli) -> None:
    cli("agent", "register", "bot", "--role-modes", "builder")
    assert "key_sha256" not in ws.agents_file.read_text()  # registered by a member: no key yet
    done = cli("agent", "key", "bot", "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert list(out) == ["agent_id", "agent_key"] and out["agent_id"] == "bot"
    key = out["agent_key"]
    assert key.startswith("aios_ak_") and len(key) > 40
    import hashlib

    held = ws.agents_file.read_text()
    assert key not in held and hashlib.sha256(key.encode()).hexdigest() in held
    assert key not in ws.governance_log.read_text()
    assert "agent key issued for agent bot by alice" in ws.governance_log.read_text()
    again = cli("agent", "key", "bot")
    assert again.exit_code == 0 and again.stdout.startswith("aios_ak_") and again.stdout.strip() != key
    assert "shown once" in again.stderr
    assert "agent key replaced for agent bot by alice" in ws.governance_log.read_text()


def test_an_operator_may_not_issue_agent_keys_nor_may_a_builtin_agent_get_one(ws: Workspace, cli) -> None:
    cli("agent", "register", "bot", "--role-modes", "builder")
    done = cli("agent", "key", "bot", actor="bob")
    assert done.exit_code == 1 and "may not approve an agent" in done.output
    from orchestrator.governance import agents

    agents.builtin(ws, "builder")
    done = cli("agent", "key", "builder")
    assert done.exit_code == 1 and "aios's built-in agent" in done.output
    assert "key_sha256" not in ws.agents_file.read_text()


def test_register_with_issue_key_prints_the_key_once(ws: Workspace, cli) -> None:
    done = cli("agent", "register", "bot", "--role-modes", "builder", "--issue-key", "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert list(out) == ["agent_id", "agent_key"] and out["agent_key"].startswith("aios_ak_")
    assert out["agent_key"] not in ws.agents_file.read_text()
