"""``aios escalate``, ``aios escalation list|answer``, the move-up at each command's start, and triage."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from helpers import new_task

from orchestrator.state import escalations as store
from orchestrator.state import freeze, tasks
from orchestrator.state.records import EventKind
from orchestrator.state.workspace import Workspace


def test_escalate_prints_who_must_answer_and_list_shows_it(ws: Workspace, cli) -> None:
    tid = new_task(ws)
    out = cli("escalate", tid, "--type", "blocked", "--reason", "tests need a db", actor="bob")
    assert out.exit_code == 0, out.output
    assert out.output.startswith("ESC-0001: L3 human operator must answer within 4h (by ")
    assert out.output.endswith("): bob\n")
    rows = json.loads(cli("escalation", "list", "--json").output)
    assert [(r["id"], r["task_id"], r["type"], r["state"], r["level"], r["answerers"]) for r in rows] == [
        ("ESC-0001", tid, "blocked", "open", "L3", ["bob"])
    ]
    assert cli("escalation", "answer", "ESC-0001", "--note", "db added", actor="bob").output == (
        "ESC-0001: answered by bob\n"
    )
    assert "answered" in cli("escalation", "list").output


def test_an_unknown_type_is_refused_with_the_choices(ws: Workspace, cli) -> None:
    out = cli("escalate", new_task(ws), "--type", "panic", "--reason", "x")
    assert out.exit_code == 2 and "'panic' is not one of" in out.output


def test_the_next_command_moves_an_overdue_escalation_up_and_freezes(
    ws: Workspace, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = new_task(ws)
    cli("escalate", tid, "--type", "security", "--reason", "key in the log")
    later = datetime.now(UTC) + timedelta(hours=4)
    monkeypatch.setattr(store, "clock", lambda: later)
    out = cli("task", "list")
    assert out.exit_code == 0
    assert "enforced by the matrix: froze the system" in out.output  # stderr, mixed in by CliRunner
    assert freeze.current(ws) is not None
    kinds = [e.kind for e in tasks.get(ws, tid).events]
    assert kinds.count(EventKind.ESCALATION) == 3  # raised, moved up to L0, enforced


def test_the_start_check_imports_no_workflow_stack(ws: Workspace) -> None:
    new = new_task(ws)
    code = (
        "import sys; from orchestrator.cli._context import CliState; "
        "from orchestrator.cli.escalation import check_overdue; "
        f"check_overdue(CliState(root=__import__('pathlib').Path({str(ws.root)!r}), actor='alice')); "
        "print(sorted(m for m in ('langgraph', 'langchain_core', 'openai', 'anthropic', "
        "'orchestrator.workflow', 'orchestrator.governance.escalations') if m in sys.modules))"
    )
    from orchestrator.governance import escalations
    from orchestrator.state.escalations import EscalationType

    escalations.escalate(ws, new, kind=EscalationType.BLOCKED, reason="x", actor="alice")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_task_list_inbox_shows_only_inbox_tasks_most_urgent_first(ws: Workspace, cli) -> None:
    first, second, third = new_task(ws), new_task(ws), new_task(ws, "data")
    cli("task", "approve", first)
    cli("task", "triage", third, "--priority", "1")
    rows = json.loads(cli("task", "list", "--inbox", "--json").output)
    assert [(r["id"], r["priority"], r["queue"]) for r in rows] == [(third, 1, "data"), (second, 3, "dev")]
    assert set(rows[0]) == {"id", "status", "queue", "priority", "title"}  # the list's keys, unchanged
    assert first in cli("task", "list").output  # plain list still shows every live task


def test_triage_sets_priority_in_state_and_card(ws: Workspace, cli) -> None:
    tid = new_task(ws)
    out = cli("task", "triage", tid, "--priority", "1", "--reason", "customer down", actor="bob")
    assert out.output == f"{tid}: priority 1 (dev, inbox)\n"
    task = tasks.get(ws, tid)
    assert task.priority == 1 and task.events[-1].reason == "triage: priority 3 → 1; customer down"
    assert "\npriority: 1\n" in (ws.root / task.card).read_text()
    cli("task", "approve", tid)
    out = cli("task", "triage", tid, "--priority", "2")
    assert out.exit_code == 1 and "not in the inbox" in out.output


def test_triage_by_a_non_member_is_refused_and_audited(ws: Workspace, cli) -> None:
    tid = new_task(ws)
    out = cli("task", "triage", tid, "--priority", "1", actor="mallory")
    assert out.exit_code == 1 and "'mallory' is not a member of this project" in out.output
    task = tasks.get(ws, tid)
    assert task.priority == 3
    assert task.events[-1].kind is EventKind.VIOLATION and "triage" in (task.events[-1].reason or "")
