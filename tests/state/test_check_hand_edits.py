"""``aios state check`` reports hand edits that the state files alone would silently accept.

Each case edits a file as a user might by hand, then runs the real ``aios state check``: exit 1,
the file and field named with a fix, no traceback, and the files left as they were.
"""

from __future__ import annotations

import re

import pytest
from helpers import run_aios

from orchestrator.governance import actions
from orchestrator.state.check import check_state, history_problems
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace

from .test_tasks import ready_task

TID = "TASK_DEV_0001"


def running_task(ws: Workspace) -> str:
    tid = ready_task(ws)  # events 1 (created) and 2 (approved)
    actions.transition(ws, tid, "start", actor="alice")  # event 3
    return tid


def state_check(ws: Workspace) -> str:
    """Run ``aios state check``; assert it refused cleanly and changed nothing; return stderr."""
    before = {p: p.read_bytes() for p in ws.state_dir.rglob("*") if p.is_file()}
    result = run_aios("state", "check", cwd=ws.root)
    assert {p: p.read_bytes() for p in ws.state_dir.rglob("*") if p.is_file()} == before
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.stderr


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_clean_workspace_passes(ws: Workspace) -> None:
    running_task(ws)
    assert check_state(ws) == []
    assert run_aios("state", "check", cwd=ws.root).returncode == 0


def test_an_index_seq_reset_by_hand_is_reported(ws: Workspace) -> None:
    running_task(ws)
    ws.index_file.write_text(re.sub(r"\nseq: \d+\n", "\nseq: 0\n", ws.index_file.read_text()))
    err = state_check(ws)
    assert "error: state/tasks.yaml: seq: the index's seq is 0, behind event seq 3 in the task files" in err
    assert "fix: run `aios state rebuild`" in err


def test_a_duplicate_event_seq_is_reported(ws: Workspace) -> None:
    running_task(ws)
    edit(ws.task_file(TID), "{seq: 3,", "{seq: 2,")
    err = state_check(ws)
    assert f"event seq 2 is used 2 times ({TID} event 2, {TID} event 3)" in err
    assert "fix: give the later event the next free seq by hand" in err


def test_a_status_moved_from_running_to_done_by_hand_is_reported(ws: Workspace) -> None:
    running_task(ws)
    edit(ws.task_file(TID), "status: running", "status: done")
    err = state_check(ws)
    assert (
        f"error: state/tasks/{TID}.yaml: status: status is done, but its last event left it running: the "
        "status was changed by hand, with no event on the audit trail (so its review and merge were skipped)"
    ) in err
    assert "fix: set status back to running, then move the task with `aios task ...`" in err


def test_a_hand_written_event_that_skips_the_merge_is_reported(ws: Workspace) -> None:
    running_task(ws)
    path = ws.task_file(TID)
    edit(path, "status: running", "status: done")
    path.write_text(
        path.read_text()
        + "- {seq: 4, at: '2026-01-01T00:00:00.000Z', actor: alice, from: running, to: done}\n"
    )
    err = state_check(ws)
    assert (
        f"state/tasks/{TID}.yaml: events[3]: event seq 4 moves running → done, which is not a lifecycle move"
        in err
    )
    assert (
        "fix: a hand edit skipped lifecycle steps: restore the file from git, compare it with "
        f"ops/audit/{TID}.md" in err
    )


def test_events_that_do_not_chain_are_reported(ws: Workspace) -> None:
    running_task(ws)
    edit(ws.task_file(TID), "from: ready, to: running", "from: inbox, to: running")
    problems = [p.render() for p in history_problems(ws, Store(ws).read_task(TID))]
    assert problems[0].startswith(
        f"state/tasks/{TID}.yaml: events[2]: event seq 3 moves from inbox, "
        "but the event before it left the task ready"
    )


def test_block_and_unblock_by_the_services_pass(ws: Workspace) -> None:
    tid = running_task(ws)
    actions.transition(ws, tid, "block", actor="alice", reason="waiting on a decision")
    actions.transition(ws, tid, "unblock", actor="alice")
    for action in ("submit", "finish", "merge"):
        actions.transition(ws, tid, action, actor="alice")
    assert check_state(ws) == []


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "agents.yaml",
            "agents: {builder: 1}\n",
            "state/agents.yaml:1: agents: Input should be a valid list",
        ),
        (
            "agents.yaml",
            "- builder\n",
            "state/agents.yaml:1: this must be a mapping whose `agents:` is a list",
        ),
        ("agents.yaml", "schema_version: 1\nagent: []\n", "state/agents.yaml:2: agent: unknown field"),
        ("sessions.yaml", "sessions: 3\n", "state/sessions.yaml:1: sessions: Input should be a valid list"),
    ],
)
def test_a_wrong_agents_or_sessions_schema_is_reported(
    ws: Workspace, file: str, text: str, message: str
) -> None:
    (ws.state_dir / file).write_text(text)
    err = state_check(ws)
    assert message in err and "\n  fix: " in err


def test_empty_agents_and_sessions_files_pass(ws: Workspace) -> None:
    ws.agents_file.write_text("")
    ws.sessions_file.write_text("schema_version: 1\nsessions: []\n")
    assert check_state(ws) == []


def test_a_persona_override_with_a_yaml_syntax_error_is_reported(ws: Workspace) -> None:
    (ws.root / "personas").mkdir()
    (ws.root / "personas/security_expert.yaml").write_text("name: security_expert\nchecklist: [a, b\n")
    err = state_check(ws)
    assert "personas/security_expert.yaml:3: this is not valid YAML" in err
    assert "fix: correct the YAML syntax at that line" in err
