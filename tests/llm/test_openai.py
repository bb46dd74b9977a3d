"""The openai adapter on the wire: what it sends per mechanism, which settings it honours, and how
it treats servers that answer badly."""

from __future__ import annotations

import json
import socket
from types import SimpleNamespace

import pytest
import wire
from harnesses import make_stub_harness
from pydantic import BaseModel

from orchestrator.errors import ConfigError
from orchestrator.llm import (
    Message,
    MissingApiKey,
    ProviderResponseError,
    ProviderUnavailable,
    RemoteRequestsDisabled,
    UnknownModel,
    get_model,
)


class Plan(BaseModel):
    steps: list[str]
    done: bool = False


def body(stub, index=-1):
    return stub.requests[index].body


def test_json_schema_is_strict_and_complete(stub, workspace, keys):
    h = make_stub_harness("openai", stub, workspace)
    h.reply_structured({"steps": ["a"], "done": True})

    h.model().structured("plan", Plan)

    fmt = body(stub)["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["steps", "done"] and schema["additionalProperties"] is False
    assert "default" not in schema["properties"]["done"]
    assert body(stub)["max_completion_tokens"] == 4096


def test_json_mode_sends_the_schema_and_an_instruction(stub, workspace, keys):
    h = make_stub_harness("openai-compatible", stub, workspace)
    h.reply_structured({"steps": ["a"]})

    h.model().structured([Message.system("You plan."), Message.user("plan")], Plan)

    sent = body(stub)
    assert sent["response_format"] == {"type": "json_object", "schema": Plan.model_json_schema()}
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["messages"][0]["content"].startswith("You plan.\n\nReply with a single JSON object")
    assert sent["max_tokens"] == 4096 and "max_completion_tokens" not in sent


def test_tool_call_mechanism_forces_the_output_tool(stub, workspace, keys):
    h = make_stub_harness("openai-compatible-tools", stub, workspace)
    h.reply_structured({"steps": ["a"]})

    assert h.model().structured("plan", Plan).steps == ["a"]

    sent = body(stub)
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "Plan"}}
    assert sent["tools"][0]["function"]["parameters"] == Plan.model_json_schema()
    assert "response_format" not in sent


def test_responses_api_request_and_tool_results(stub, workspace, keys):
    h = make_stub_harness("openai-responses", stub, workspace)
    h.reply_tool_calls([("call_9", "read_file", {"path": "a.py"})])
    h.reply_structured({"steps": ["b"]})
    model = h.model()
    tool = {"name": "read_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}

    first = model.complete("read it", tools=[tool])
    conversation = [
        Message.user("read it"),
        first.as_message(),
        Message.tool_result(first.tool_calls[0], "x = 1"),
    ]
    model.structured(conversation, Plan)

    assert stub.requests[0].path == "/v1/responses"
    sent = body(stub)
    assert sent["store"] is False and sent["text"]["format"]["type"] == "json_schema"
    kinds = [item.get("type", item.get("role")) for item in sent["input"]]
    assert kinds == ["user", "function_call", "function_call_output"]
    assert sent["input"][2] == {"type": "function_call_output", "call_id": "call_9", "output": "x = 1"}


def test_usage_includes_cached_tokens(stub, workspace, keys):
    h = make_stub_harness("openai", stub, workspace)
    h.reply_text("hi")

    usage = h.model().complete("hi").usage

    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (11, 7, 3)


def test_base_url_from_openai_base_url(stub, workspace, keys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", stub.url + "/v1")
    stub.queue(200, wire.chat_completion("from env"))

    assert get_model("openai:gpt-4o-mini", workspace=workspace).complete("hi").text == "from env"


def test_base_url_from_aios_base_url(stub, workspace, monkeypatch):
    monkeypatch.setenv("AIOS_BASE_URL", stub.url + "/v1")
    stub.queue(200, wire.chat_completion("local"))

    assert get_model("openai-compatible:llama", workspace=workspace).complete("hi").text == "local"
    assert stub.requests[0].headers["authorization"] == "Bearer not-needed"


def test_openai_compatible_needs_a_base_url(workspace):
    with pytest.raises(UnknownModel) as caught:
        get_model("openai-compatible:llama", workspace=workspace)
    assert "--base-url" in caught.value.fix and isinstance(caught.value, ConfigError)


def test_missing_key_names_the_variable(stub, workspace):
    with pytest.raises(MissingApiKey) as caught:
        get_model("openai:gpt-4o-mini", base_url=stub.url + "/v1", workspace=workspace)
    assert caught.value.variable == "OPENAI_API_KEY"
    assert "export OPENAI_API_KEY=" in caught.value.render()
    assert isinstance(caught.value, ConfigError)


def test_remote_servers_are_refused_in_tests(workspace, keys):
    with pytest.raises(RemoteRequestsDisabled):
        get_model("openai:gpt-4o-mini", workspace=workspace)


@pytest.mark.parametrize("payload", [{"hello": "world"}, b"<html>proxy error</html>", {"choices": []}])
def test_a_2xx_that_is_not_a_completion_is_a_clean_error(stub, workspace, keys, payload):
    h = make_stub_harness("openai-compatible", stub, workspace)
    ctype = {"content-type": "text/html"} if isinstance(payload, bytes) else None
    stub.queue(200, payload, ctype)

    with pytest.raises(ProviderResponseError) as caught:
        h.model().complete("hi")
    assert "not a chat completion" in caught.value.message


def test_connection_refused_is_transient(workspace, keys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept = []
    model = get_model(
        "openai-compatible:x", base_url=f"http://127.0.0.1:{port}/v1", workspace=workspace, sleep=slept.append
    )

    with pytest.raises(ProviderUnavailable) as caught:
        model.complete("hi")
    assert "cannot connect" in caught.value.message and len(slept) == 2


def test_json_schema_500_suggests_another_mechanism(stub, workspace, keys):
    # llama.cpp's server answers HTTP 500 to response_format json_schema.
    h = make_stub_harness("openai", stub, workspace)
    for _ in range(3):
        h.reply_error(500)

    with pytest.raises(ProviderUnavailable) as caught:
        h.model().structured("plan", Plan)
    assert "structured: json_mode" in caught.value.fix


def test_an_injected_client_is_used(workspace):
    calls = []

    def create(**kwargs):
        calls.append(kwargs)
        from openai.types.chat import ChatCompletion

        return ChatCompletion.model_validate(wire.chat_completion("injected"))

    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    model = get_model("openai:gpt-4o", workspace=workspace, client=client)  # no key needed

    assert model.complete("hi").text == "injected"
    assert calls[0]["model"] == "gpt-4o"


def test_invalid_tool_arguments_are_kept_raw(stub, workspace, keys):
    h = make_stub_harness("openai-compatible", stub, workspace)
    h.reply_tool_calls([("c1", "read_file", "{not json")])  # type: ignore[list-item]

    (call,) = h.model().complete("go", tools=[{"name": "read_file"}]).tool_calls

    assert call.arguments == {} and call.invalid_arguments == "{not json"
    assert json.loads(json.dumps(call.model_dump()))["invalid_arguments"] == "{not json"
