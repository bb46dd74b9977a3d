"""Record a run against the stub, then replay it with no server: text, tool calls, structured
output with its repair turn, parallel order, and mismatches that name the turn."""

from __future__ import annotations

import json
import threading

import pytest
from harnesses import make_stub_harness
from pydantic import BaseModel

from orchestrator.errors import ConfigError
from orchestrator.llm import Message, ReplayMismatch, UnknownModel, get_model
from orchestrator.llm.replay import close_recorder

TOOL = {"name": "read_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}


class Plan(BaseModel):
    steps: list[str]


def run_session(model):
    """A small builder session: a tool loop, then a structured answer that needs a repair."""
    first = model.complete("Review a.py", tools=[TOOL], node="builder")
    call = first.tool_calls[0]
    conversation = [Message.user("Review a.py"), first.as_message(), Message.tool_result(call, "x = 1")]
    text = model.complete(conversation, tools=[TOOL], node="builder").text
    plan = model.structured("Plan it.", Plan, node="builder")
    return call.arguments, text, plan


@pytest.fixture(params=["openai", "openai-compatible-tools", "anthropic"])
def recording(request, stub, workspace, keys, tmp_path):
    """A recording of ``run_session`` made through one adapter, and what the live run returned."""
    h = make_stub_harness(request.param, stub, workspace)
    h.reply_tool_calls([("call_1", "read_file", {"path": "a.py"})])
    h.reply_text("Looks fine.")
    h.reply_garbage()
    h.reply_structured({"steps": ["ship it"]})
    path = tmp_path / "run.jsonl"
    live = run_session(h.model(record=path))
    close_recorder(path)
    return path, live


def test_replay_reproduces_the_run(recording, workspace):
    path, live = recording

    replayed = run_session(get_model(f"replay:{path}", workspace=workspace))

    assert replayed == live
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["turn"] for line in lines] == [1, 2, 3, 4]


def test_a_changed_request_names_the_turn_and_the_difference(recording, workspace):
    path, _ = recording
    model = get_model(f"replay:{path}", workspace=workspace)
    model.complete("Review a.py", tools=[TOOL])

    with pytest.raises(ReplayMismatch) as caught:
        model.complete("Review b.py", tools=[TOOL])

    assert caught.value.turn == 2
    assert "messages[0].content" in caught.value.difference
    assert "Review b.py" in caught.value.difference


def test_the_end_of_the_recording_is_a_mismatch(recording, workspace):
    path, _ = recording
    model = get_model(f"replay:{path}", workspace=workspace)
    run_session(model)

    with pytest.raises(ReplayMismatch) as caught:
        model.complete("one more")
    assert caught.value.turn == 5 and "no more turns" in str(caught.value)


def test_parallel_calls_may_come_in_any_order(stub, workspace, keys, tmp_path):
    h = make_stub_harness("openai", stub, workspace)
    path = tmp_path / "parallel.jsonl"
    live = h.model(record=path)
    for name in ("quality", "security"):
        h.reply_text(f"{name} ok")
        live.complete(f"review as {name}")
    close_recorder(path)
    model = get_model(f"replay:{path}", workspace=workspace)
    answers = {}

    def review(name):
        answers[name] = model.complete(f"review as {name}").text

    threads = [threading.Thread(target=review, args=(n,)) for n in ("security", "quality")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert answers == {"quality": "quality ok", "security": "security ok"}


def test_replay_ignores_generation_settings(recording, workspace):
    path, live = recording
    # The replay model's max_tokens and mechanism differ from the recorded model's; the run still matches.
    model = get_model(f"replay:{path}", workspace=workspace)
    assert model.settings.max_tokens == 4096
    first = model.complete("Review a.py", tools=[TOOL], max_tokens=7)
    assert first.tool_calls[0].arguments == live[0]


def test_a_missing_recording_is_a_config_error(tmp_path, workspace):
    with pytest.raises(UnknownModel) as caught:
        get_model(f"replay:{tmp_path / 'nope.jsonl'}", workspace=workspace)
    assert isinstance(caught.value, ConfigError) and "--record" in caught.value.fix


def test_a_broken_line_names_the_line(tmp_path, workspace):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"v": 1, "turn": 1, "request": {"messages": []}, "response": {}}\nnot json\n')

    with pytest.raises(UnknownModel) as caught:
        get_model(f"replay:{path}", workspace=workspace)
    assert caught.value.line == 2


def test_a_relative_recording_is_found_in_the_workspace(recording, workspace):
    path, live = recording
    (workspace / "demo.jsonl").write_text(path.read_text())

    assert run_session(get_model("replay:demo.jsonl", workspace=workspace)) == live
