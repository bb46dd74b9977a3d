"""`aios task`: output contracts and exit codes of new, approve, start, status and list."""

from __future__ import annotations

import json

import pytest
from helpers import agent_session

from orchestrator.errors import PermissionDenied
from orchestrator.governance import actions
from orchestrator.state.workspace import Workspace


def test_new_prints_id_and_json(cli) -> None:
    result = cli("task", "new", "--queue", "dev", "--title", "Add login", "--criterion", "works")
    assert result.exit_code == 0
    assert result.stdout == "TASK_DEV_0001\n"
    result = cli("task", "new", "--queue", "dev", "--title", "Second", "--criterion", "x", "--json")
    assert json.loads(result.stdout)["id"] == "TASK_DEV_0002"


def test_each_check_follows_its_criterion(cli, ws: Workspace) -> None:
    cli(
        "task",
        "new",
        "--queue",
        "dev",
        "--title",
        "T",
        "--criterion",
        "a",
        "--criterion",
        "b",
        "--check",
        "pytest -q",
        "--criterion",
        "c",
    )
    card = (ws.inbox_dir / "TASK_DEV_0001.md").read_text()
    assert "- id: AC1\n  text: a\n- id: AC2\n  text: b\n  check: pytest -q\n- id: AC3\n  text: c\n" in card


def test_status_and_list_json_contract(cli) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    cli("task", "approve", "TASK_DEV_0001")
    status = json.loads(cli("task", "status", "TASK_DEV_0001", "--json").stdout)
    assert status["status"] == "ready"
    assert [(e["from"], e["to"], e["actor"]) for e in status["events"]] == [
        (None, "inbox", "alice"),
        ("inbox", "ready", "alice"),
    ]
    assert {"at", "actor", "from", "to", "reason"} <= status["events"][0].keys()
    listing = json.loads(cli("task", "list", "--json").stdout)
    assert listing == [
        {"id": "TASK_DEV_0001", "status": "ready", "queue": "dev", "priority": 3, "title": "T"}
    ]


def test_refusal_exits_1_with_one_paragraph(cli) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    result = cli("task", "start", "TASK_DEV_0001")
    assert result.exit_code == 1


def test_usage_error_exits_2(cli) -> None:
    result = cli("task", "new", "--title", "no queue")
    assert result.exit_code == 2
    assert "missing --queue, --criterion" in result.stderr


def test_stop_blocks_the_task_with_an_emergency_stop_event(cli, ws: Workspace) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    done = cli("task", "stop", "TASK_DEV_0001", "--reason", "runaway agent")
    assert done.exit_code == 0, done.output
    assert done.stdout == "TASK_DEV_0001: inbox → blocked (emergency stop)\n"  # from the inbox too
    status = json.loads(cli("task", "status", "TASK_DEV_0001", "--json").stdout)
    assert status["status"] == "blocked"
    assert status["events"][-1] | {"at": "-"} == {
        "seq": 2,
        "at": "-",
        "actor": "alice",
        "from": "inbox",
        "to": "blocked",
        "reason": "runaway agent",
        "artifacts": [],
        "session": None,
        "kind": "emergency_stop",
    }
    shown = cli("task", "status", "TASK_DEV_0001").stdout
    assert "inbox → blocked [emergency_stop]  by alice  runaway agent" in shown
    trail = (ws.audit_dir / "TASK_DEV_0001.md").read_text()
    assert "· inbox → blocked [emergency_stop] · by alice (human) · runaway agent\n" in trail
    assert "\n  kind:" not in ws.task_file("TASK_DEV_0001").read_text().split("to: blocked")[0]


def test_stop_of_a_blocked_task_records_who_stopped_it(cli, ws: Workspace) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    cli("task", "block", "TASK_DEV_0001", "--reason", "waiting")
    again = cli("task", "stop", "TASK_DEV_0001", "--reason", "hold it", "--json")
    assert json.loads(again.stdout) == {
        "id": "TASK_DEV_0001",
        "status": "blocked",
        "from": "blocked",
        "event": "emergency_stop",
    }
    assert cli("task", "unblock", "TASK_DEV_0001").stdout == "TASK_DEV_0001: blocked → inbox\n"
    no_reason = cli("task", "stop", "TASK_DEV_0001", "--reason", "")
    assert no_reason.exit_code == 1
    assert no_reason.stderr == "error: stopping TASK_DEV_0001 needs a reason\n  fix: pass --reason TEXT\n"


def test_an_emergency_stop_is_a_persons_not_an_agents(cli, ws: Workspace) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    agent = agent_session(ws, "bot", scope=["TASK_DEV_0001"])
    with pytest.raises(PermissionDenied, match="builder mode, which may not stop a task"):
        actions.stop(ws, "TASK_DEV_0001", actor=agent.actor, session=agent, reason="stuck")
    assert "refused (role-mode): stop" in (ws.audit_dir / "TASK_DEV_0001.md").read_text()
    assert cli("task", "stop", "TASK_DEV_0001", "--reason", "stuck", actor="bob").exit_code == 0


def test_triage_refiles_into_another_queue_and_the_old_id_says_where_it_went(ws: Workspace, cli) -> None:
    from helpers import new_task

    old = new_task(ws, "dev")
    done = cli("task", "triage", old, "--queue", "data", "--priority", "1", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "id": "TASK_DATA_0001",
        "status": "inbox",
        "queue": "data",
        "priority": 1,
        "refiled_from": old,
    }
    shown = cli("task", "status", old)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{old}  re-filed as TASK_DATA_0001  (queue dev → data)"
    assert lines[-1] == "  `aios task status TASK_DATA_0001` shows it"
    data = json.loads(cli("task", "status", old, "--json").stdout)
    assert (data["status"], data["refiled_to"], data["current_id"], data["by"]) == (
        "refiled",
        "TASK_DATA_0001",
        "TASK_DATA_0001",
        "alice",
    )
    approve = cli("task", "approve", old)
    assert approve.exit_code == 1 and "was re-filed as TASK_DATA_0001" in approve.output
    assert "use TASK_DATA_0001" in approve.output
    listed = json.loads(cli("task", "list", "--inbox", "--json").stdout)
    assert [r["id"] for r in listed] == ["TASK_DATA_0001"]


def test_triage_needs_a_priority_or_a_queue(ws: Workspace, cli) -> None:
    from helpers import new_task

    done = cli("task", "triage", new_task(ws, "dev"))
    assert done.exit_code == 2 and "give --priority, --queue, or both" in done.output


def test_a_long_list_prints_as_plain_columns_like_a_short_one(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.cli import task as task_cli

    cli("task", "new", "--queue", "dev", "--title", "Add login", "--criterion", "a")
    cli("task", "new", "--queue", "dev", "--title", "Fix [bold]x\x1b[2J", "--criterion", "a")
    short = cli("task", "list").stdout
    monkeypatch.setattr(task_cli, "_RICH_ROWS", 1)  # rich lays out 0.3 ms a row: 3 s for 10,000
    long = cli("task", "list").stdout
    assert long == (
        "id             status  queue  prio  title\n"
        "TASK_DEV_0001  inbox   dev    3     Add login\n"
        "TASK_DEV_0002  inbox   dev    3     Fix [bold]x\\x1b[2J\n"
    )
    assert [line.rstrip() for line in short.splitlines()] == long.splitlines()
