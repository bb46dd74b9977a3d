"""``aios models check`` against the stub server, through typer's CliRunner."""

from __future__ import annotations

import json
import re

import pytest
import typer
import wire
from typer.testing import CliRunner

from orchestrator.cli._context import CliState
from orchestrator.cli.models import register
from orchestrator.llm import MissingApiKey
from orchestrator.llm.replay import close_recorder

runner = CliRunner()
CAPITAL = json.dumps({"country": "France", "capital": "Paris"})


def make_app() -> typer.Typer:
    """The models group under a root callback like aios's own (--root sets the workspace)."""
    app = typer.Typer(no_args_is_help=True)

    @app.callback()
    def main(ctx: typer.Context, root: str = typer.Option(None, "--root")) -> None:
        from pathlib import Path

        ctx.obj = CliState(root=Path(root) if root else None, actor=None)

    register(app)
    return app


@pytest.fixture
def check(stub, workspace):
    app = make_app()

    def invoke(*args: str, model: str = "openai-compatible:local"):
        argv = ["--root", str(workspace), "models", "check", model, "--base-url", stub.url + "/v1", *args]
        return runner.invoke(app, argv)

    return invoke


def test_both_checks_pass(stub, check):
    stub.queue(200, wire.chat_completion("pong"))
    stub.queue(200, wire.chat_completion(CAPITAL))

    result = check()

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "openai-compatible:local (openai adapter)"
    assert re.fullmatch(r"  ok   text +\d+\.\d\d s  11 in / 7 out +pong", lines[1])
    assert re.fullmatch(
        r'  ok   structured \(json_mode\) +\d+\.\d\d s  11 in / 7 out +\{"country":"France".*', lines[2]
    )
    assert result.stderr == ""
    assert stub.requests[0].body["max_tokens"] == 16


def test_json_output(stub, check):
    stub.queue(200, wire.chat_completion("pong"))
    stub.queue(200, wire.chat_completion(CAPITAL))

    data = json.loads(check("--json").stdout)

    assert data["ok"] is True and [c["name"] for c in data["checks"]] == ["text", "structured (json_mode)"]
    assert data["checks"][0]["output_tokens"] == 7 and data["checks"][1]["error"] is None


def test_a_structured_failure_exits_1_with_the_reason(stub, check):
    stub.queue(200, wire.chat_completion("pong"))
    stub.queue(200, wire.chat_completion("Paris is lovely"))
    stub.queue(200, wire.chat_completion("Paris, France"))

    result = check()

    assert result.exit_code == 1
    assert "  FAIL structured (json_mode)" in result.stdout
    assert result.stderr.startswith(
        "error: structured (json_mode): openai-compatible:local: no valid Capital reply"
    )
    assert "the reply is not JSON" in result.stderr


def test_auth_failure_is_reported_for_both_checks(stub, check):
    stub.always = (401, wire.openai_error(401, "bad key"), {}, 0.0)

    result = check()

    assert result.exit_code == 1
    assert result.stderr.count("the server refused the key (HTTP 401): bad key") == 2
    assert len(stub.requests) == 2  # no retries on 401


def test_record_writes_both_turns(stub, check, tmp_path):
    stub.queue(200, wire.chat_completion("pong"))
    stub.queue(200, wire.chat_completion(CAPITAL))
    path = tmp_path / "check.jsonl"

    assert check("--record", str(path)).exit_code == 0
    assert [json.loads(line)["turn"] for line in path.read_text().splitlines()] == [1, 2]


def test_a_recorded_check_replays_offline(stub, check, workspace, tmp_path):
    stub.queue(200, wire.chat_completion("pong"))
    stub.queue(200, wire.chat_completion(CAPITAL))
    path = tmp_path / "check.jsonl"
    check("--record", str(path))
    close_recorder(path)

    result = runner.invoke(make_app(), ["--root", str(workspace), "models", "check", f"replay:{path}"])

    assert result.exit_code == 0, result.output
    assert "replay adapter" in result.stdout and len(stub.requests) == 2


def test_a_missing_key_is_a_user_error(stub, workspace):
    result = runner.invoke(
        make_app(),
        ["--root", str(workspace), "models", "check", "openai:gpt-4o-mini", "--base-url", stub.url + "/v1"],
    )
    assert result.exit_code == 1 and isinstance(result.exception, MissingApiKey)
    assert "export OPENAI_API_KEY=" in result.exception.render()
