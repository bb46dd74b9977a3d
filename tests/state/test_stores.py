"""``open_store``: the backend a workspace's settings select, and what each costs to load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git_repo, new_task

from orchestrator.errors import StateError
from orchestrator.state import tasks
from orchestrator.state.setup import init
from orchestrator.state.store import Store
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace


def test_the_yaml_files_are_the_default_and_never_load_psycopg(ws: Workspace) -> None:
    assert type(open_store(ws)) is Store
    new_task(ws)
    code = (
        "import sys; from pathlib import Path; from orchestrator.state import tasks;"
        "from orchestrator.state.workspace import Workspace;"
        "tasks.listing(Workspace(Path(sys.argv[1])), include_done=True); print('psycopg' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ws.root)], capture_output=True, text=True, check=True
    )
    assert out.stdout == "False\n"


def test_a_state_url_selects_postgresql(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOS_STATE_URL", "postgresql://aios@127.0.0.1:1/nowhere")
    store = open_store(ws)
    assert type(store).__name__ == "PgStore"
    with pytest.raises(StateError) as refused:
        store.read_index()  # nothing listens on port 1
    assert refused.value.message.startswith("cannot connect to the state database")
    assert "AIOS_STATE_URL" in str(refused.value.fix)

    monkeypatch.setenv("AIOS_STATE_URL", "postgresql://aios:secret@127.0.0.1/db")
    with pytest.raises(StateError, match="AIOS_STATE_URL: the URL holds a password"):
        open_store(ws)


def test_workspaces_sharing_a_database_see_only_their_own_state(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    other, _ = init(git_repo(tmp_path / "other"), owner="alice")
    assert other.project.workspace_id != ws.project.workspace_id
    mine = new_task(ws)
    theirs = new_task(other, "data")
    assert [r["id"] for r in tasks.listing(ws, include_done=True)] == [mine]
    assert [r["id"] for r in tasks.listing(other, include_done=True)] == [theirs]
    assert open_store(ws).read_index().seq == open_store(other).read_index().seq == 1  # seq per workspace


def test_a_database_that_stops_answering_is_an_error_with_a_fix(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a crash log: the user is told what to check; the transaction it cut off is not kept."""
    import psycopg

    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    tid = new_task(ws)
    store = open_store(ws)
    pid = store.conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[attr-defined,index]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StateError) as stopped:
        store.read_task(tid)
    assert stopped.value.message.startswith("the state database stopped answering")
    assert "AIOS_STATE_URL" in str(stopped.value.fix)
    assert open_store(ws).read_task(tid).id == tid  # the next command connects again
