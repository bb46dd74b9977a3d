"""``aios serve``: the login link on stdout, alone on its line; a warning beyond 127.0.0.1."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.cli.serve import link_host
from orchestrator.state.workspace import Workspace


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace uvicorn: record what serve was given and report it listening on port 4321."""
    seen: dict[str, Any] = {}

    def fake_serve(root: Any, *, gate: Any, host: str, port: int, sandbox: bool, on_ready: Any) -> None:
        seen.update(root=root, gate=gate, host=host, port=port, sandbox=sandbox)
        on_ready(4321)

    monkeypatch.setattr("orchestrator.web.server.serve", fake_serve)
    return seen


def test_the_link_is_printed_alone_on_stdout(ws: Workspace, cli, started: dict[str, Any]) -> None:
    done = cli("serve", "--port", "0")
    assert done.exit_code == 0, done.output
    assert re.fullmatch(r"http://127\.0\.0\.1:4321/login\?token=[A-Za-z0-9_-]{40,}\n", done.stdout)
    assert done.stdout.strip().endswith(started["gate"].link_token)
    assert (started["host"], started["port"], started["root"]) == ("127.0.0.1", 0, ws.root)
    assert done.stderr == ""


def test_listening_beyond_this_machine_warns(ws: Workspace, cli, started: dict[str, Any]) -> None:
    done = cli("serve", "--host", "10.0.0.5", "--no-sandbox")
    assert done.exit_code == 0, done.output
    assert done.stderr.startswith("warning: listening on 10.0.0.5: anyone who can reach this machine")
    assert done.stdout.startswith("http://10.0.0.5:4321/login?token=")
    assert started["sandbox"] is False


def test_serve_outside_a_workspace_is_refused(tmp_path, monkeypatch: pytest.MonkeyPatch, started) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.app import app

    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["serve"], env={"AIOS_ROOT": ""})
    assert done.exit_code == 1 and done.stderr.startswith("error: ") and started == {}


@pytest.mark.parametrize(
    ("host", "shown"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::1", "[::1]"), ("10.0.0.5", "10.0.0.5")],  # noqa: S104 - compared, not bound
)
def test_the_link_names_a_host_a_browser_can_open(host: str, shown: str) -> None:
    assert link_host(host) == shown
