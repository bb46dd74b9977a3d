"""The graph's context is plain data (``RunSpec``); nodes build a ``RunContext`` from it once per process."""

from __future__ import annotations

import json
import typing

import pytest
from helpers import started_calc_task

from orchestrator.errors import ConfigError
from orchestrator.governance.guard import RunGuard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs, spec
from orchestrator.workflow.context import RUN_ACTORS, RunContext, RunSpec
from orchestrator.workflow.options import RunOptions

KEY = "sk-proj-" + "A1b2C3d4" * 6  # the shape of an OpenAI key, in the environment of the run


def make_spec(ws: Workspace, tid: str, options: RunOptions, agents: dict) -> RunSpec:
    guard = RunGuard.begin(ws, tid, own=RUN_ACTORS)
    return spec.spec_for(ws, tid, options, sessions=agents, guard=guard)


def test_the_context_is_json_data_and_holds_no_secret(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    tid = started_calc_task(ws)
    options = RunOptions(builder_mode="external", reviewer_mode="static", model="openai:gpt-4o-mini")
    with runs.run_agents(ws, runs.load_card(ws, tid), by="alice") as agents:
        data = make_spec(ws, tid, options, agents)
        text = json.dumps(data)
        assert json.loads(text) == data  # plain JSON types only: a server stores it as is
        assert set(data) == set(typing.get_type_hints(RunSpec))
        assert data["sessions"] == {actor: s.id for actor, s in agents.items()}
        for session in agents.values():
            assert session.token_sha256 not in text
    assert KEY not in text and "aios_st_" not in text and "sk-" not in text
    assert (data["root"], data["task_id"], data["model"]) == (
        str(ws.root.resolve()),
        tid,
        "openai:gpt-4o-mini",
    )


def test_a_model_server_url_with_credentials_is_refused(ws: Workspace) -> None:
    tid = started_calc_task(ws)
    options = RunOptions(base_url="http://me:hunter2@127.0.0.1:8080/v1")
    with pytest.raises(ConfigError) as caught:
        make_spec(ws, tid, options, {})
    assert caught.value.field == "--base-url" and "hunter2" not in caught.value.render()


def test_a_process_that_did_not_start_the_run_builds_its_context_once(ws: Workspace) -> None:
    tid = started_calc_task(ws)
    options = RunOptions(builder_mode="external", reviewer_mode="static")
    with runs.run_agents(ws, runs.load_card(ws, tid), by="alice") as agents:
        data = make_spec(ws, tid, options, agents)
        built = spec.resolve(data)
        assert spec.resolve(json.loads(json.dumps(data))) is built  # the parallel checks share it
        assert isinstance(built, RunContext) and built.card.id == tid and built.external
        assert {a: s.id for a, s in built.sessions.items()} == data["sessions"]
        assert built.guard is not None and built.guard.last_seq == data["guard_seq"]
        assert spec.resolve(make_spec(ws, tid, options, agents)) is not built  # a new invocation


def test_in_process_the_callers_own_context_serves_the_spec(ws: Workspace) -> None:
    tid = started_calc_task(ws)
    options = RunOptions(builder_mode="external", reviewer_mode="static")
    data = make_spec(ws, tid, options, {})
    wired = spec.build(data, progress=lambda line: None)
    with spec.running(data, wired):
        assert spec.resolve(data) is wired
    assert spec.resolve(data) is not wired  # gone with its invocation
