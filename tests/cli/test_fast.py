"""Start-up: a state command imports only what it uses (issue 19), and the plainest read-only
invocations, served without typer (``cli._fast``), print what the typer commands print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import git_repo, reviewed_once

from orchestrator.cli import _fast
from orchestrator.cli.app import app
from orchestrator.state import peek as state_peek
from orchestrator.state.setup import init
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import peek as run_peek

#: What no state command needs: the graph stack, model SDKs, the MCP and web servers.
HEAVY = {
    "langgraph",
    "langchain_core",
    "langsmith",
    "openai",
    "anthropic",
    "mcp",
    "starlette",
    "jinja2",
    "uvicorn",
}
#: What the plain reads need neither: the CLI framework, the models, YAML, the table renderer.
FRAMEWORK = {"typer", "click", "pydantic", "pydantic_core", "yaml", "rich"}

PROBE = (
    "import json, sys\n"
    "from orchestrator.cli import run\n"
    "sys.argv = ['aios', *json.loads(sys.argv[1])]\n"
    "try:\n"
    "    run()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "top = sorted({m.split('.')[0] for m in sys.modules})\n"
    "sys.stderr.write('\\nMODULES ' + json.dumps([code, top]) + '\\n')\n"
)


def aios(ws: Workspace, *args: str) -> tuple[int, str, set[str]]:
    """Run ``aios args`` as its own process in ``ws``: exit code, stdout, top-level modules imported."""
    env = {**os.environ, "AIOS_ACTOR": "alice"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], cwd=ws.root, env=env, capture_output=True, text=True
    )
    code, modules = json.loads(done.stderr.rpartition("MODULES ")[2])
    return code, done.stdout, set(modules)


@pytest.fixture(scope="module")
def reviewed_ws(tmp_path_factory: pytest.TempPathFactory, scan_cache_dir: Path) -> tuple[Workspace, str]:
    """One workspace for the module (a review round takes seconds): a task reviewed once, its
    files old enough to be cached (the racy rule's second). Tests leave it as they found it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIOS_CACHE_DIR", str(scan_cache_dir))
        ws, _ = init(git_repo(tmp_path_factory.mktemp("fast") / "repo"), owner="alice")
        tid = reviewed_once(ws)
    time.sleep(1.1)
    return ws, tid


@pytest.fixture
def ws(reviewed_ws: tuple[Workspace, str]) -> Workspace:
    return reviewed_ws[0]


@pytest.fixture
def reviewed(reviewed_ws: tuple[Workspace, str]) -> str:
    return reviewed_ws[1]


@pytest.mark.parametrize(
    "args",
    [["task", "status", "{tid}"], ["task", "list"], ["task", "list", "--all"], ["review", "status", "{tid}"]],
)
def test_a_plain_read_imports_neither_typer_nor_models_nor_yaml(ws: Workspace, reviewed: str, args) -> None:
    argv = [a.format(tid=reviewed) for a in args]
    aios(ws, *argv)  # the first look reads the files and keeps them in the scan cache
    for shown in (argv, [*argv, "--json"]):
        code, out, modules = aios(ws, *shown)
        assert code == 0 and out
        assert modules & (HEAVY | FRAMEWORK) == set(), shown


def test_through_typer_a_state_command_still_imports_no_pydantic_and_no_graph(
    ws: Workspace, reviewed: str
) -> None:
    aios(ws, "task", "status", reviewed)
    code, out, modules = aios(ws, "-q", "task", "status", reviewed)  # an option: the typer app parses it
    assert code == 0 and reviewed in out
    assert "typer" in modules and modules & (HEAVY | {"pydantic", "yaml"}) == set()


def test_review_status_through_typer_imports_no_graph_stack(ws: Workspace, reviewed: str) -> None:
    code, out, modules = aios(ws, "-q", "review", "status", reviewed)
    assert code == 0 and "round 1, verdict APPROVED" in out
    assert modules & HEAVY == set()


@pytest.mark.parametrize(
    "args",
    [
        ["task", "status", "{tid}"],
        ["task", "status", "{tid}", "--json"],
        ["task", "list"],
        ["task", "list", "--json"],
        ["task", "list", "--all"],
        ["task", "list", "--all", "--json"],
        ["review", "status", "{tid}"],
        ["review", "status", "{tid}", "--json"],
    ],
)
def test_the_fast_path_prints_what_the_full_path_prints(
    ws: Workspace, reviewed: str, args, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    argv = [a.format(tid=reviewed) for a in args]
    aios(ws, *argv)
    code, fast, _ = aios(ws, *argv)
    for reader in (
        (state_peek, "task"),
        (state_peek, "live"),
        (state_peek, "everything"),
        (run_peek, "status"),
    ):
        monkeypatch.setattr(*reader, lambda *_: None)  # every light read declines: the full path
    full = CliRunner().invoke(app, argv, env={"AIOS_ROOT": str(ws.root), "AIOS_ACTOR": "alice"})
    assert (code, fast) == (full.exit_code, full.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["task", "status", "TASK_DEV_0009"],  # no such task: the typer app says so
        ["task", "status", "{tid}", "-h"],
        ["task", "list", "--all", "--queue", "dev"],
        ["task", "list", "--json", "--all"],  # served only in the documented order
        ["task", "status", "{tid}", "--all"],
        ["task", "list", "--json", "--inbox"],
        ["review", "show", "{tid}"],
        ["-v", "task", "list"],
        ["task", "status"],
    ],
)
def test_anything_else_is_left_to_the_typer_app_with_nothing_printed(
    ws: Workspace, reviewed: str, args, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIOS_ROOT", str(ws.root))
    assert _fast.serve([a.format(tid=reviewed) for a in args]) is None
    assert capsys.readouterr() == ("", "")


def test_an_escalation_that_may_be_due_is_left_to_the_typer_app(
    ws: Workspace, reviewed: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIOS_ROOT", str(ws.root))
    aios(ws, "task", "list")
    assert _fast.serve(["task", "list"]) == 0
    ws.escalations_file.write_text("escalations:\n- due_at: '2026-01-01T00:00:00Z'\n")
    capsys.readouterr()
    try:
        assert _fast.serve(["task", "list"]) is None
        assert _fast.serve(["--root", str(ws.root), "task", "list"]) is None
    finally:
        ws.escalations_file.unlink()
    assert capsys.readouterr() == ("", "")


def test_a_leading_root_option_is_served_too(ws: Workspace, reviewed: str) -> None:
    aios(ws, "--root", str(ws.root), "task", "status", reviewed)
    code, out, modules = aios(ws, "--root", str(ws.root), "task", "status", reviewed)
    assert code == 0 and out.startswith(f"{reviewed}  reviewing") and "typer" not in modules
