"""Where the review graph keeps its checkpoints (``engines``): PostgreSQL when configured, for real.

Each PostgreSQL test gets its own database (``postgres_url``); they skip outside CI without one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import git_repo, merges_of, run_aios, started_calc_task

from orchestrator.errors import StateError
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state.setup import init
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import engines, runs
from orchestrator.workflow.options import RunOptions

OPTIONS = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=bwrap_available())


def test_the_embedded_default_keeps_the_task_id_as_thread_id(ws: Workspace) -> None:
    assert engines.config(ws, "TASK_DEV_0001") == {"configurable": {"thread_id": "TASK_DEV_0001"}}


def test_the_embedded_default_loads_no_postgresql_or_server_client(ws: Workspace) -> None:
    """psycopg, the PostgreSQL saver and the server client (``RemoteGraph``) load only when a URL
    names them. (langgraph itself imports parts of langgraph_sdk, so that name proves nothing.)"""
    tid = started_calc_task(ws)
    script = (
        "import sys; from pathlib import Path\n"
        "from orchestrator.state.workspace import Workspace\n"
        "from orchestrator.workflow import runs\n"
        f"print(runs.status(Workspace(Path({str(ws.root)!r})), {tid!r}).status)\n"
        "heavy = ('psycopg', 'langgraph.checkpoint.postgres', 'langgraph.pregel.remote')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["running", "[]"]


def test_thread_ids_in_a_shared_database_name_the_workspace(
    tmp_path: Path, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    other, _ = init(git_repo(tmp_path / "other"), owner="alice")
    monkeypatch.setenv("AIOS_CHECKPOINT_URL", "postgresql://aios@127.0.0.1:1/aios")
    mine, theirs = engines.thread_id(ws, "TASK_DEV_0001"), engines.thread_id(other, "TASK_DEV_0001")
    assert mine == f"{ws.project.workspace_id}:TASK_DEV_0001" and mine != theirs


def test_an_unreachable_checkpoint_database_is_a_clear_error(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_CHECKPOINT_URL", "postgresql://aios@127.0.0.1:1/aios")
    with pytest.raises(StateError) as caught:
        runs.status(ws, "TASK_DEV_0001")
    assert caught.value.message.startswith(
        "cannot use the checkpoint database aios@127.0.0.1:1/aios (AIOS_CHECKPOINT_URL): "
    )
    assert caught.value.fix == (
        "start PostgreSQL at aios@127.0.0.1:1/aios or correct AIOS_CHECKPOINT_URL; unset it to keep "
        "checkpoints in state/checkpoints.sqlite"
    )


def test_the_project_setting_is_named_when_it_chose_the_database(ws: Workspace) -> None:
    text = ws.project_file.read_text()
    ws.project_file.write_text(text + "backends:\n  checkpoints: postgresql://aios@127.0.0.1:1/aios\n")
    with pytest.raises(StateError, match=r"\(backends.checkpoints in state/project.yaml\)"):
        runs.status(Workspace(ws.root), "TASK_DEV_0001")


# ---- PostgreSQL, for real ----


def test_a_run_checkpointed_in_postgresql_is_approved_by_another_process(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = started_calc_task(ws)
    monkeypatch.setenv("AIOS_CHECKPOINT_URL", postgres_url)
    result = runs.run(ws, tid, OPTIONS, actor="alice")
    assert (result.verdict, result.waiting_for) == ("APPROVED", "human_review")
    assert not ws.checkpoints_db.exists()  # nothing went to SQLite

    env = {"AIOS_CHECKPOINT_URL": postgres_url}
    done = run_aios("--root", str(ws.root), "review", "approve", tid, "--json", cwd=ws.root, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["status"], out["merged"]) == ("done", git.head(ws.root, "refs/heads/main"))
    assert merges_of(ws, tid) == [f"Merge {tid}: Add mul"]
    again = run_aios("--root", str(ws.root), "review", "approve", tid, "--json", cwd=ws.root, env=env)
    assert f"{tid} is already merged; nothing to do" in again.stdout + again.stderr
    assert merges_of(ws, tid) == [f"Merge {tid}: Add mul"]


def test_two_workspaces_with_the_same_task_id_share_one_database(
    tmp_path: Path, ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_CHECKPOINT_URL", postgres_url)
    first = started_calc_task(ws)
    other_root, _ = init(git_repo(tmp_path / "other"), owner="alice")
    other = Workspace(other_root.root)
    second = started_calc_task(other)
    assert first == second  # the same task id in both

    assert runs.run(ws, first, OPTIONS, actor="alice").waiting_for == "human_review"
    untouched = runs.status(other, second)  # the other workspace's thread has no run yet
    assert (untouched.round, untouched.waiting_for, untouched.status) == (0, None, "running")

    assert runs.answer(ws, first, "approve", actor="alice", options=OPTIONS).status == "done"
    assert runs.run(other, second, OPTIONS, actor="alice").waiting_for == "human_review"
    assert (runs.status(ws, first).status, runs.status(other, second).status) == ("done", "reviewing")
    assert merges_of(other, second) == []


SET_UP_AT_ONCE = """
import sys, time
from pathlib import Path
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import engines
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))  # every process at the same instant
with engines.postgres_graph(Workspace(Path(sys.argv[1])), sys.argv[2]):
    pass
"""


def test_processes_setting_up_a_new_checkpoint_database_at_once_all_succeed(
    ws: Workspace, postgres_url: str
) -> None:
    # Workers starting together on a new database each run langgraph's migrations: unserialised,
    # the later inserts into its migrations table fail on a duplicate key.
    start = time.time() + 3  # after every interpreter has started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SET_UP_AT_ONCE, str(ws.root), postgres_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    failed = [err for proc in procs if (err := proc.communicate(timeout=120)[1]) and proc.returncode]
    assert failed == []
