"""orchestrator.llm.fake: the function-style fake, the queue, and the path they share with real models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from orchestrator.llm import (
    Message,
    ProviderResponseError,
    StructuredOutputError,
    UnknownModel,
    UsageMeter,
    get_model,
)
from orchestrator.llm.fake import FakeModel, install_fake, installed_fake, tool_call


class Verdict(BaseModel):
    approve: bool
    reason: str


def test_function_receives_the_messages_and_the_schema(workspace):
    seen = {}

    def reviewer(messages, info):
        seen["last"] = messages[-1].content
        seen["schema"] = info.output.json_schema["title"]
        return {"approve": True, "reason": "tests pass"}

    with install_fake(reviewer):
        verdict = get_model("fake", workspace=workspace).structured("Review this diff.", Verdict)

    assert verdict == Verdict(approve=True, reason="tests pass")
    assert seen == {"last": "Review this diff.", "schema": "Verdict"}


def test_queue_goes_first_then_the_function(workspace):
    fake = FakeModel(lambda messages, info: f"call {info.call_index}").enqueue("queued")
    with install_fake(fake):
        model = get_model("fake", workspace=workspace)
        assert [model.complete("x").text for _ in range(3)] == ["queued", "call 1", "call 2"]


def test_fakes_go_through_validation_repair_and_metering(workspace):
    fake = FakeModel().enqueue({"approve": "perhaps"}, Verdict(approve=False, reason="no tests"))
    meter = UsageMeter()
    with install_fake(fake):
        verdict = get_model("fake", workspace=workspace, meter=meter).structured(
            "Review.", Verdict, node="check_q"
        )

    assert verdict.reason == "no tests"
    assert "rejected" in fake.requests[1].messages[-1].content
    assert meter.by_node["check_q"].calls == 2


def test_fake_never_valid_is_a_typed_error(workspace):
    with install_fake(FakeModel().enqueue("nonsense", "more nonsense")), pytest.raises(StructuredOutputError):
        get_model("fake", workspace=workspace).structured("Review.", Verdict)


def test_structured_reply_follows_the_tool_call_mechanism(workspace):
    (workspace / "workflows" / "models.yaml").write_text("models:\n  fake: {structured: tool_call}\n")
    fake = FakeModel().enqueue({"approve": True, "reason": "ok"})
    with install_fake(fake):
        get_model("fake", workspace=workspace).structured("Review.", Verdict)
    assert fake.requests[0].output.mechanism == "tool_call"


def test_tool_calls_and_exceptions(workspace):
    from orchestrator.llm import ProviderAuthError

    fake = FakeModel().enqueue(
        tool_call("read_file", path="a.py"), ProviderAuthError("bad key", model="fake")
    )
    with install_fake(fake):
        model = get_model("fake", workspace=workspace)
        reply = model.complete([Message.user("go")], tools=[{"name": "read_file"}])
        assert reply.tool_calls[0].arguments == {"path": "a.py"} and reply.finish_reason == "tool_calls"
        with pytest.raises(ProviderAuthError):
            model.complete("again")


def test_an_empty_fake_says_what_to_do(workspace):
    with install_fake(), pytest.raises(ProviderResponseError) as caught:
        get_model("fake", workspace=workspace).complete("x")
    assert "enqueue" in caught.value.fix


def test_install_is_scoped_and_nestable():
    outer, inner = FakeModel(), FakeModel()
    with install_fake(outer):
        with install_fake(inner):
            assert installed_fake() is inner
        assert installed_fake() is outer
    with pytest.raises(UnknownModel, match="no fake model is installed"):
        installed_fake()
