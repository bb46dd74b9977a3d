"""``langchain:<module>:<Class>``: any langchain-core chat model behind the same ``Model``, tried with
langchain-core's own fake chat models (the real integration runs the conformance suite)."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel

from orchestrator.errors import ConfigError
from orchestrator.llm import (
    Message,
    ProviderAuthError,
    ProviderResponseError,
    ProviderUnavailable,
    RemoteRequestsDisabled,
    UnknownModel,
    UsageMeter,
    get_model,
)
from orchestrator.llm.replay import close_recorder

FAKES = "langchain_core.language_models.fake_chat_models"
LIST_SPEC = f"langchain:{FAKES}:FakeListChatModel"
TOOL = {"name": "read_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}


class Plan(BaseModel):
    steps: list[str]


class ToolFake(FakeMessagesListChatModel):
    """A fake that can bind tools, as real integrations do, and keeps what it was sent."""

    seen: list[list[BaseMessage]] = []
    bound: list[dict[str, Any]] = []

    def bind_tools(self, tools: Any, *, tool_choice: str | None = None, **kwargs: Any) -> Any:
        self.bound.append({"tools": tools, "tool_choice": tool_choice})
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ):
        self.seen.append(messages)
        return super()._generate(messages, stop, run_manager, **kwargs)


class FailingFake(GenericFakeChatModel):
    """Raises the queued exceptions, then answers from ``messages``."""

    errors: list[Exception] = []

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        if self.errors:
            raise self.errors.pop(0)
        return super()._generate(*args, **kwargs)


class StatusError(Exception):
    """Shaped like the SDK errors integrations raise: a status code and a response with headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.response = type("R", (), {"status_code": status, "headers": headers or {}})()
        self.body = {"error": {"message": "stub says no"}}


@pytest.fixture(autouse=True)
def _fake_settings(workspace: Path) -> None:
    """langchain-core's fakes cannot bind tools: they answer structured requests as text."""
    models_yaml(
        workspace,
        '  "langchain:*Fake*": {structured: text}\n  "langchain:tests:ToolFake": {structured: tool_call}\n',
    )


def models_yaml(workspace: Path, text: str) -> None:
    with (workspace / "workflows" / "models.yaml").open("a") as fh:
        fh.write(text)


def ai(text: str = "", calls: list[tuple[str, str, dict[str, Any]]] = (), **meta: Any) -> AIMessage:
    return AIMessage(
        content=text,
        tool_calls=[{"id": i, "name": n, "args": a, "type": "tool_call"} for i, n, a in calls],
        usage_metadata={
            "input_tokens": 12,
            "output_tokens": 5,
            "total_tokens": 17,
            "input_token_details": {"cache_read": 4},
        },
        response_metadata=meta,
    )


def test_a_text_reply_is_metered_from_usage_metadata(workspace):
    chat = GenericFakeChatModel(messages=iter([ai("pong", finish_reason="stop", model_name="fake-1")]))
    meter = UsageMeter()
    model = get_model(
        f"langchain:{FAKES}:GenericFakeChatModel", workspace=workspace, client=chat, meter=meter
    )

    reply = model.complete("ping", node="builder")

    assert (reply.text, reply.finish_reason, reply.model) == ("pong", "stop", "fake-1")
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.cached_tokens) == (12, 5, 4)
    assert meter.to_dict()["by_node"]["builder"]["calls"] == 1


def test_messages_and_tool_calls_map_both_ways(workspace):
    chat = ToolFake(responses=[ai(calls=[("call_1", "read_file", {"path": "a.py"})]), ai("Fine.")])
    model = get_model("langchain:tests:ToolFake", workspace=workspace, client=chat)
    conversation = [Message.system("You review."), Message.user("Review a.py")]

    first = model.complete(conversation, tools=[TOOL], tool_choice="required")
    (call,) = first.tool_calls
    assert (call.id, call.name, call.arguments, first.finish_reason) == (
        "call_1",
        "read_file",
        {"path": "a.py"},
        "tool_calls",
    )
    conversation += [first.as_message(), Message.tool_result(call, "x = 1", is_error=True)]
    assert model.complete(conversation, tools=[TOOL]).text == "Fine."

    sent = chat.seen[1]
    assert [type(m) for m in sent] == [SystemMessage, HumanMessage, AIMessage, ToolMessage]
    assert sent[2].tool_calls[0]["args"] == {"path": "a.py"}
    assert (sent[3].tool_call_id, sent[3].content, sent[3].status) == ("call_1", "x = 1", "error")
    assert chat.bound[0]["tool_choice"] == "any"  # langchain's word for "required"
    assert chat.bound[0]["tools"][0]["function"]["name"] == "read_file"


def test_structured_output_by_a_forced_tool_call_with_one_repair(workspace):
    chat = ToolFake(
        responses=[ai(calls=[("c1", "Plan", {"plan": "x"})]), ai(calls=[("c2", "Plan", {"steps": ["ship"]})])]
    )
    model = get_model("langchain:tests:ToolFake", workspace=workspace, client=chat)

    assert model.structured("Plan it.", Plan) == Plan(steps=["ship"])
    assert [b["tool_choice"] for b in chat.bound] == ["Plan", "Plan"]
    repair = chat.seen[1][-1]
    assert isinstance(repair, ToolMessage) and "rejected" in repair.content and repair.status == "error"


def test_a_model_from_models_yaml_with_structured_text(workspace):
    replies = """["Sure!", '{"steps": ["a"]}']"""
    models_yaml(
        workspace, f'  "{LIST_SPEC}":\n    structured: text\n    options:\n      responses: {replies}\n'
    )
    model = get_model(LIST_SPEC, workspace=workspace)

    assert model.structured("Plan it.", Plan) == Plan(steps=["a"])
    assert isinstance(model.provider.chat, FakeListChatModel)


def test_a_class_without_bind_tools_cannot_use_tool_call_output(workspace):
    models_yaml(workspace, f'  "{LIST_SPEC}":\n    structured: tool_call\n    options: {{responses: [x]}}\n')
    with pytest.raises(UnknownModel) as caught:
        get_model(LIST_SPEC, workspace=workspace)
    assert "cannot ask for structured output by tool_call" in caught.value.message
    assert caught.value.fix == f"use one of text for {LIST_SPEC}"


@pytest.mark.parametrize(
    ("spec", "message", "fix"),
    [
        ("langchain:no_such_pkg.chat:ChatX", "cannot import no_such_pkg.chat", "pip install no-such-pkg"),
        (f"langchain:{FAKES}:Nope", f"{FAKES} has no Nope", "BaseChatModel subclass"),
        (
            "langchain:json:JSONDecoder",
            "json is not a langchain-core BaseChatModel: JSONDecoder",
            "ChatOpenAI",
        ),
        ("langchain:ChatOpenAI", "not a class path", "langchain:<module>:<Class>"),
    ],
)
def test_a_bad_class_path_is_a_config_error(workspace, spec, message, fix):
    with pytest.raises(UnknownModel) as caught:
        get_model(spec, workspace=workspace)
    assert isinstance(caught.value, ConfigError)
    assert message in caught.value.message and fix in caught.value.fix


def test_options_the_class_refuses_name_the_file_and_field(workspace):
    models_yaml(workspace, f'  "{LIST_SPEC}":\n    structured: text\n    options: {{responses: 7}}\n')
    with pytest.raises(UnknownModel) as caught:
        get_model(LIST_SPEC, workspace=workspace)
    assert caught.value.message.startswith(f"{FAKES}:FakeListChatModel refused its options: ")
    assert (str(caught.value.file), caught.value.field) == ("workflows/models.yaml", "options")


def test_a_key_in_the_options_is_refused(workspace):
    models_yaml(workspace, f'  "{LIST_SPEC}":\n    structured: text\n    options: {{openai_api_key: sk-x}}\n')
    with pytest.raises(UnknownModel) as caught:
        get_model(LIST_SPEC, workspace=workspace)
    assert caught.value.field == "options.openai_api_key" and "api_key_env" in caught.value.fix


def test_transient_errors_are_retried_with_retry_after(workspace):
    chat = FailingFake(
        messages=iter([ai("ok")]), errors=[StatusError(429, {"retry-after": "2"}), TimeoutError()]
    )
    slept: list[float] = []
    model = get_model(
        f"langchain:{FAKES}:GenericFakeChatModel", workspace=workspace, client=chat, sleep=slept.append
    )

    assert model.complete("hi").text == "ok"
    assert slept[0] == 2.0 and len(slept) == 2


def test_an_auth_error_fails_at_once_and_an_unknown_one_is_a_response_error(workspace):
    spec = f"langchain:{FAKES}:GenericFakeChatModel"
    chat = FailingFake(messages=iter([]), errors=[StatusError(401), RuntimeError("boom")])
    model = get_model(spec, workspace=workspace, client=chat, sleep=lambda s: None)

    with pytest.raises(ProviderAuthError) as auth:
        model.complete("hi")
    with pytest.raises(ProviderResponseError) as other:
        model.complete("hi")

    assert (auth.value.status, auth.value.body, auth.value.model) == (401, "stub says no", spec)
    assert other.value.message == "the chat model failed: RuntimeError: boom"
    assert not isinstance(other.value, ProviderUnavailable)


def test_a_langchain_run_records_and_replays(workspace, tmp_path):
    chat = ToolFake(responses=[ai(calls=[("c1", "read_file", {"path": "a.py"})]), ai("done")])
    path = tmp_path / "lc.jsonl"
    live = get_model("langchain:tests:ToolFake", workspace=workspace, client=chat, record=path)
    first = live.complete("Review a.py", tools=[TOOL])
    live.complete(
        [Message.user("Review a.py"), first.as_message(), Message.tool_result(first.tool_calls[0], "x")]
    )
    close_recorder(path)

    replay = get_model(f"replay:{path}", workspace=workspace)
    again = replay.complete("Review a.py", tools=[TOOL])

    assert again.tool_calls == first.tool_calls and again.usage.input_tokens == 12


@pytest.mark.skipif(find_spec("langchain_openai") is None, reason="langchain-openai is not installed")
def test_a_remote_server_is_refused_while_requests_are_off(workspace, keys):
    with pytest.raises(RemoteRequestsDisabled):
        get_model("langchain:langchain_openai:ChatOpenAI/gpt-4o-mini", workspace=workspace)


def test_the_state_commands_do_not_import_langchain():
    code = (
        "import sys, orchestrator.llm, orchestrator.llm.registry, orchestrator.cli.app; "
        "print([m for m in sys.modules if m.startswith('langchain')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_chat_generation_without_tool_calls_is_plain_text():
    from orchestrator.llm.langchain import from_langchain

    reply = from_langchain(
        ChatGeneration(message=AIMessage(content=[{"type": "text", "text": "hi"}])).message
    )
    assert (reply.text, reply.tool_calls, reply.finish_reason) == ("hi", (), "stop")
