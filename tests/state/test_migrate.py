"""``aios state migrate`` to PostgreSQL and back, and ``aios state export``: nothing lost, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import agent_session, new_task, ready_task

from orchestrator.errors import StateError
from orchestrator.governance import actions
from orchestrator.state import audit, migrate, tasks
from orchestrator.state.check import check_state
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, TaskState, now
from orchestrator.state.store import Store
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace

PATHS = {
    "done": [Status.INBOX, Status.READY, Status.RUNNING, Status.REVIEWING, Status.DONE],
    "live": [Status.INBOX, Status.READY, Status.BLOCKED, Status.READY],
}


def _seed(ws: Workspace, n: int) -> None:
    """``n`` task files as aios writes them (events with artifacts, sessions and kinds), indexed."""
    seq = Store(ws).read_index().seq
    for i in range(1, n + 1):
        path = PATHS["live" if i % 5 == 0 else "done"]
        events = []
        for before, after in zip([None, *path], path, strict=False):
            seq += 1
            extra = (
                {"artifacts": [f"ops/reviews/r{i}.md"], "session": "SES-0123456789ab"} if i % 7 == 0 else {}
            )
            events.append(
                Event(seq=seq, at=now(), actor="alice", from_=before, to=after, reason=f"step {seq}", **extra)
            )
        task = TaskState(
            id=f"TASK_DATA_{i:04d}",
            title=f"Task {i}: «quoted» #{i}",
            queue="data",
            priority=1 + i % 5,
            card=f"tasks/inbox/TASK_DATA_{i:04d}.md",
            status=path[-1],
            blocked_from=None,
            created_at=now(),
            updated_at=now(),
            events=events,
        )
        ws.task_file(task.id).write_text(task.to_yaml())
        audit.append(ws, task, start=0)
    Store(ws).rebuild_index()


def _state_files(ws: Workspace) -> dict[str, bytes]:
    files = [ws.index_file, ws.agents_file, ws.sessions_file, *ws.tasks_dir.glob("*.yaml")]
    trails = list(ws.audit_dir.glob("TASK_*.md"))
    return {ws.rel(p): p.read_bytes() for p in [*files, *trails]}


def test_a_thousand_tasks_go_to_postgresql_and_back_byte_for_byte(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(ws, 1000)
    tid = ready_task(ws)  # a task made by aios itself, with its audit trail
    actions.transition(ws, tid, "start", actor="alice")
    agent_session(ws, "claude", scope=[tid])
    actions.set_lock(ws, ["research"], locked=True, actor="alice", reason="incident 7")
    before = _state_files(ws)
    assert len(before) == 1001 * 2 + 3

    moved = migrate.to_postgres(ws, postgres_url)
    assert moved.tasks == 1001
    assert not ws.index_file.exists() and (ws.state_dir / "migrated-1" / "tasks.yaml").exists()
    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    assert len(tasks.listing(ws, include_done=True)) == 1001
    assert open_store(ws).index().queues["research"].locked_by == "alice"

    back = migrate.to_yaml(ws)
    monkeypatch.delenv("AIOS_STATE_URL")
    assert back.tasks == 1001
    after = _state_files(ws)
    assert sorted(after) == sorted(before)
    assert [name for name in before if after[name] != before[name]] == []  # every byte, every file
    assert check_state(ws) == []


def test_moving_to_postgresql_refuses_a_database_holding_this_workspace(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_task(ws)
    migrate.to_postgres(ws, postgres_url)
    Store(ws).rebuild_index()  # YAML state again beside the database's copy
    with pytest.raises(StateError) as refused:
        migrate.to_postgres(ws, postgres_url)
    assert refused.value.render().startswith(
        f"state/project.yaml: id: the database already holds the state of workspace {ws.project.workspace_id}"
    )
    assert ws.index_file.exists()  # refused before anything moved

    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    with pytest.raises(StateError, match="the YAML files already hold state: state/tasks.yaml"):
        migrate.to_yaml(ws)
    assert [r["id"] for r in tasks.listing(ws)] == ["TASK_DEV_0001"]  # still in the database


def test_moving_refuses_what_it_cannot_move(ws: Workspace) -> None:
    with pytest.raises(StateError, match="--to: 'mysql://x' is not a PostgreSQL URL"):
        migrate.to_postgres(ws, "mysql://x")
    with pytest.raises(StateError, match="the URL holds a password"):
        migrate.to_postgres(ws, "postgresql://u:secret@127.0.0.1/db")
    with pytest.raises(StateError, match="the state is already in YAML files"):
        migrate.to_yaml(ws)


def test_export_writes_the_yaml_view_of_postgresql_state(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")

    done = migrate.export(ws, tmp_path / "view")
    view = Workspace(tmp_path / "view")
    assert done.tasks == 1
    assert view.task_file(tid).read_text() == tasks.get(ws, tid).to_yaml()
    assert f"  {tid}: {{status: running, queue: dev" in view.index_file.read_text()
    assert view.audit_file(tid).read_text() == ws.audit_file(tid).read_text()
    assert view.agents_file.read_text().endswith("agents: []\n")


def test_cli_migrate_says_which_setting_selects_the_backend(cli, ws: Workspace, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    new_task(ws)
    result = cli("state", "migrate", "--to", postgres_url)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Moved 1 task(s) with their events, queues, agents and sessions to PostgreSQL (workspace "
        f"{ws.project.workspace_id}).\n"
        "The YAML files are kept in state/migrated-1/ (no command reads them).\n"
        f"next: every command on every machine must now use the database: set AIOS_STATE_URL={postgres_url}, "
        f"or add `backends: {{state: {postgres_url}}}` to state/project.yaml and commit it\n"
    )
    again = cli("state", "migrate", "--to", postgres_url)
    assert again.exit_code == 1
    assert "there is no state in YAML files to move: the index is missing" in again.output
