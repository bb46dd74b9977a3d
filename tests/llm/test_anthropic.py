"""The anthropic adapter on the wire: headers, system prompt, tool results, mechanisms, usage."""

from __future__ import annotations

import pytest
import wire
from harnesses import MODELS_YAML, make_stub_harness
from pydantic import BaseModel

from orchestrator.llm import Message, StructuredOutputError, UnknownModel, get_model


class Plan(BaseModel):
    steps: list[str]


def body(stub, index=-1):
    return stub.requests[index].body


def test_headers_and_system_prompt(stub, workspace, keys):
    h = make_stub_harness("anthropic", stub, workspace)
    h.reply_text("hello")

    h.model().complete([Message.system("Be terse."), Message.user("hi")])

    request = stub.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["Authorization"] == f"Bearer {keys['ANTHROPIC_API_KEY']}"
    assert request.headers["anthropic-version"]
    assert request.body["system"] == "Be terse."
    assert request.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_tool_results_merge_into_one_user_turn(stub, workspace, keys):
    h = make_stub_harness("anthropic", stub, workspace)
    h.reply_text("done")
    calls = (wire_call("t1", "a.py"), wire_call("t2", "b.py"))
    conversation = [
        Message.user("read both"),
        Message.assistant("", calls),
        Message.tool_result("t1", "A"),
        Message.tool_result("t2", "missing", is_error=True),
    ]

    h.model().complete(conversation, tools=[{"name": "read_file"}])

    messages = body(stub)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][0] == {
        "type": "tool_use",
        "id": "t1",
        "name": "read_file",
        "input": {"path": "a.py"},
    }
    assert [b["tool_use_id"] for b in messages[2]["content"]] == ["t1", "t2"]
    assert messages[2]["content"][1]["is_error"] is True


def wire_call(call_id, path):
    from orchestrator.llm import ToolCall

    return ToolCall(id=call_id, name="read_file", arguments={"path": path})


def test_native_structured_output_uses_output_config(stub, workspace, keys):
    h = make_stub_harness("anthropic", stub, workspace)
    h.reply_structured({"steps": ["a"]})

    h.model().structured("plan", Plan)

    fmt = body(stub)["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["additionalProperties"] is False


def test_forced_tool_mechanism(stub, workspace, keys):
    h = make_stub_harness("anthropic-tools", stub, workspace)
    h.reply_structured({"steps": ["a"]})

    h.model().structured("plan", Plan)

    assert body(stub)["tool_choice"] == {"type": "tool", "name": "Plan"}
    assert body(stub)["tools"][0]["input_schema"] == Plan.model_json_schema()


def test_text_mechanism_puts_the_instruction_in_the_system_prompt(stub, workspace, keys):
    stub.queue(200, wire.anthropic_message('Here you go: {"steps": ["a"]}'))

    plan = get_model("anthropic:text", base_url=stub.url, workspace=workspace).structured("plan", Plan)

    assert plan.steps == ["a"]
    assert "Reply with a single JSON object" in body(stub)["system"]


def test_json_mode_is_refused_for_anthropic(workspace, keys):
    (workspace / "workflows" / "models.yaml").write_text(
        MODELS_YAML + '  "anthropic:jsonmode": {structured: json_mode}\n'
    )
    with pytest.raises(UnknownModel) as caught:
        get_model("anthropic:jsonmode", base_url="http://127.0.0.1:9", workspace=workspace)
    assert "json_schema, text, tool_call" in caught.value.fix


def test_anthropic_base_url_from_environment(stub, workspace, keys, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
    stub.queue(200, wire.anthropic_message("env"))

    assert get_model("anthropic:claude-stub", workspace=workspace).complete("hi").text == "env"


def test_overloaded_529_is_retried(stub, workspace, keys):
    h = make_stub_harness("anthropic", stub, workspace)
    h.reply_error(529)
    h.reply_text("ok")

    assert h.model().complete("hi").text == "ok" and len(h.slept) == 1


def test_usage_counts_cache_reads_as_input(stub, workspace, keys):
    h = make_stub_harness("anthropic", stub, workspace)
    h.reply_text("hi")

    usage = h.model().complete("hi").usage

    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (11, 7, 3)


def test_a_refusal_ends_as_a_structured_output_error(stub, workspace, keys):
    for _ in range(2):
        stub.queue(200, wire.anthropic_message("I can't help with that.", finish="refusal"))

    with pytest.raises(StructuredOutputError) as caught:
        get_model("anthropic:claude-stub", base_url=stub.url, workspace=workspace).structured("plan", Plan)
    assert "refused" in caught.value.reason
