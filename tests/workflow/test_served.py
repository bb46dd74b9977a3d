"""The review graph on LangGraph Server (``served.py``, ``engines.served_graph``), for real:
``langgraph dev`` on 127.0.0.1 runs it offline; ``aios`` drives it through ``langgraph_sdk``.

The server is started from a ``langgraph.json`` the test writes, naming the graph by the
imported module's path, so this also runs from a copy of tests/ against the installed wheel.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import git_repo, merges_of, run_aios, started_calc_task

from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.setup import init
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import engines, runs, served
from orchestrator.workflow.options import RunOptions

PORTS = range(2101, 2120)
OPTIONS = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=bwrap_available())
REPO = Path(__file__).resolve().parents[2]


def _langgraph() -> Path:
    found = Path(sys.executable).parent / "langgraph"
    if not found.exists():
        pytest.skip("langgraph-cli is not installed: `pip install '.[server]'` brings `langgraph dev`")
    try:
        import langgraph_api  # noqa: F401 - `langgraph dev` needs the in-memory server
    except ImportError:
        pytest.skip("langgraph-cli[inmem] is not installed: `pip install '.[server]'`")
    return found


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port in {PORTS.start}-{PORTS.stop - 1} for `langgraph dev`")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``langgraph dev`` serving ``served.graph`` on 127.0.0.1; stopped by its PID at the end."""
    exe, folder, port = _langgraph(), tmp_path_factory.mktemp("langgraph"), _free_port()
    config = {"dependencies": ["."], "graphs": {engines.GRAPH_ID: f"{served.__file__}:graph"}}
    (folder / "langgraph.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "LANGSMITH_TRACING": "false",
        "AIOS_MODEL": "fake",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    argv = [str(exe), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
        [*argv, "--config", "langgraph.json"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ok(url, proc, folder / "server.log")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and any child it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _wait_ok(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"langgraph dev did not answer GET /ok in 90 s:\n{log.read_text()[-3000:]}")


def test_a_review_runs_on_the_server_and_another_process_approves_it_once(
    ws: Workspace, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langgraph_sdk import get_sync_client

    tid = started_calc_task(ws)
    monkeypatch.setenv("AIOS_LANGGRAPH_URL", server)
    result = runs.run(ws, tid, OPTIONS, actor="alice")
    assert (result.verdict, result.waiting_for, result.status) == ("APPROVED", "human_review", "reviewing")
    # The server holds the thread, under an id of the workspace and task; nothing ran in SQLite.
    client = get_sync_client(url=server)
    state = client.threads.get_state(engines.thread_id(ws, tid))
    assert state["values"]["task_id"] == tid and state["next"] == ["human_review"]
    [task] = state["tasks"]
    assert task["interrupts"][0]["value"]["kind"] == "human_review"
    assert not ws.checkpoints_db.exists()
    runs_made = client.runs.list(engines.thread_id(ws, tid))
    assert runs_made and all(r["kwargs"]["context"]["task_id"] == tid for r in runs_made)
    stored = json.dumps([r["kwargs"] for r in runs_made])  # the server keeps and shows this
    assert "aios_st_" not in stored and "token" not in stored
    client.close()

    env = {"AIOS_LANGGRAPH_URL": server}
    done = run_aios("--root", str(ws.root), "review", "approve", tid, "--json", cwd=ws.root, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["status"], out["waiting_for"]) == ("done", None)
    assert out["merged"] == git.head(ws.root, "refs/heads/main")
    assert merges_of(ws, tid) == [f"Merge {tid}: Add mul"]

    again = run_aios("--root", str(ws.root), "review", "approve", tid, "--json", cwd=ws.root, env=env)
    assert f"{tid} is already merged; nothing to do" in again.stdout + again.stderr
    assert merges_of(ws, tid) == [f"Merge {tid}: Add mul"]  # no second merge
    assert runs.status(ws, tid).merged == out["merged"]


def test_authority_is_checked_before_the_server_is_asked(
    ws: Workspace, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bob (an operator) may not merge: refused here, so the server's interrupt still waits."""
    from orchestrator.errors import PermissionDenied

    tid = started_calc_task(ws)
    monkeypatch.setenv("AIOS_LANGGRAPH_URL", server)
    assert runs.run(ws, tid, OPTIONS, actor="alice").waiting_for == "human_review"
    with pytest.raises(PermissionDenied):
        runs.answer(ws, tid, "approve", actor="bob")
    assert runs.status(ws, tid).waiting_for == "human_review" and merges_of(ws, tid) == []


def test_two_workspaces_get_their_own_server_threads(
    tmp_path: Path, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    other, _ = init(git_repo(tmp_path / "other"), owner="alice")
    monkeypatch.setenv("AIOS_LANGGRAPH_URL", "http://127.0.0.1:9")
    ids = {engines.thread_id(ws, "TASK_DEV_0001"), engines.thread_id(other, "TASK_DEV_0001")}
    assert len(ids) == 2 and all(str(uuid.UUID(i)) == i for i in ids)  # UUIDs, one per workspace


def test_an_unreachable_server_is_a_clear_error(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.errors import StateError

    monkeypatch.setenv("AIOS_LANGGRAPH_URL", "http://127.0.0.1:9")
    with pytest.raises(StateError) as caught:
        runs.status(ws, "TASK_DEV_0001")
    assert "the LangGraph Server at http://127.0.0.1:9 (AIOS_LANGGRAPH_URL) failed" in caught.value.message
    assert "unset it to run reviews in this process" in (caught.value.fix or "")


def test_the_repository_langgraph_json_names_the_served_graph() -> None:
    config_file = REPO / "langgraph.json"
    if not config_file.exists():
        pytest.skip("tests/ runs outside the checkout: no langgraph.json beside it")
    config = json.loads(config_file.read_text())
    module, _, name = config["graphs"][engines.GRAPH_ID].partition(":")
    assert (REPO / module).resolve() == Path(served.__file__).resolve() and name == "graph"


def test_a_merge_refused_on_the_server_comes_back_as_a_clear_error(
    ws: Workspace, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.errors import AiosError

    tid = started_calc_task(ws)
    monkeypatch.setenv("AIOS_LANGGRAPH_URL", server)
    assert runs.run(ws, tid, OPTIONS, actor="alice").waiting_for == "human_review"
    (ws.root / "src" / "calc.py").write_text("def mul(a, b):\n    return 0\n")  # a conflict on main
    git.commit_all(ws.root, "conflicting mul")
    with pytest.raises(AiosError) as caught:
        runs.answer(ws, tid, "approve", actor="alice", options=OPTIONS)
    assert caught.value.message == (
        f"MergeConflict on the LangGraph Server: task/{tid} conflicts with main in: src/calc.py"
    )
    assert caught.value.fix == (
        f"`aios review status {tid}` shows where the run stopped; the server's log has the details"
    )
    assert merges_of(ws, tid) == [] and runs.status(ws, tid).note == (
        f"{tid}'s merge was approved but did not happen: fix what it reported and `aios review approve "
        f'{tid}` again, or send the change back with `aios review reject {tid} --feedback "..."`'
    )


def test_an_error_of_ours_on_the_server_comes_back_as_its_class() -> None:
    from orchestrator.errors import RunStopped

    back = engines.node_error("RunStopped", "RunStopped('the run stopped: frozen')", "TASK_DEV_0001")
    assert isinstance(back, RunStopped) and back.message == "the run stopped: frozen"
    other = engines.node_error("", "weird text", "TASK_DEV_0001")
    assert (
        type(other).__name__ == "AiosError"
        and other.message == "an error on the LangGraph Server: weird text"
    )


def test_the_web_page_rejects_through_the_server(
    ws: Workspace, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's buttons call the same service: the decision resumes the server's interrupt."""
    import re

    from starlette.testclient import TestClient

    from orchestrator.web.app import create_app
    from orchestrator.web.auth import Gate

    tid = started_calc_task(ws)
    monkeypatch.setenv("AIOS_LANGGRAPH_URL", server)
    assert runs.run(ws, tid, OPTIONS, actor="alice").waiting_for == "human_review"
    app = create_app(ws.root, gate=Gate("link-token"), sandbox=bwrap_available())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        opened = client.get("/login?token=link-token")
        csrf = re.search(r'name="csrf" value="([^"]+)"', opened.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"member": "bob", "csrf": csrf})  # rejecting is an operator's right
        client.post(f"/tasks/{tid}/reject", data={"csrf": csrf, "feedback": "name it times"})
    assert tasks.get(ws, tid).status.value == "running"
    with runs.open_graph(ws) as graph:  # the server's thread: the builder's next round gets the feedback
        snapshot = graph.get_state(engines.config(ws, tid))
    asked = [i.value for t in snapshot.tasks for i in t.interrupts]
    assert asked[0]["kind"] == "builder" and asked[0]["feedback"] == ["Human reviewer (bob): name it times"]
