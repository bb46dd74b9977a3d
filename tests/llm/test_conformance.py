"""One suite, every adapter: openai chat, openai responses, openai-compatible (json mode and forced
tool), anthropic (native schema and forced tool), and the fake. The real SDKs talk to a stub server
on 127.0.0.1; retries never really sleep (the harness records the waits)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from orchestrator.llm import (
    BudgetExceeded,
    Message,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderUnavailable,
    StructuredOutputError,
    UsageMeter,
)


class Plan(BaseModel):
    steps: list[str]
    done: bool


READ_FILE = {
    "name": "read_file",
    "description": "Read a file of the change.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
}


def test_text_reply_is_metered_per_node(harness):
    harness.reply_text("pong")
    meter = UsageMeter()
    model = harness.model(meter=meter)

    reply = model.complete([{"role": "user", "content": "ping"}], node="builder")

    assert reply.text == "pong"
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.latency_s > 0
    totals = meter.to_dict()
    assert totals["by_node"]["builder"]["calls"] == 1
    assert totals["total"]["input_tokens"] == reply.usage.input_tokens
    assert totals["by_model"][harness.spec]["output_tokens"] == reply.usage.output_tokens


def test_structured_output(harness):
    harness.reply_structured({"steps": ["write a test", "make it pass"], "done": False})

    plan = harness.model().structured("Plan the change.", Plan, node="builder")

    assert plan == Plan(steps=["write a test", "make it pass"], done=False)
    assert harness.n_requests == 1


def test_invalid_json_gets_one_repair_turn(harness):
    harness.reply_garbage()
    harness.reply_structured({"steps": ["fixed"], "done": True})

    plan = harness.model().structured("Plan the change.", Plan)

    assert plan.steps == ["fixed"]
    assert harness.n_requests == 2
    assert "rejected" in harness.sent(1)


def test_reply_that_never_validates_is_a_typed_error(harness):
    harness.reply_structured({"steps": "not a list", "done": "maybe"})
    harness.reply_structured({"steps": "still not a list", "done": "maybe"})

    with pytest.raises(StructuredOutputError) as caught:
        harness.model().structured("Plan the change.", Plan)

    assert "steps" in caught.value.reason and "Plan" in caught.value.reason
    assert caught.value.model == harness.spec
    assert harness.n_requests == 2


def test_429_waits_as_long_as_retry_after_says(harness):
    harness.reply_error(429, {"retry-after": "2"})
    harness.reply_text("ok")

    assert harness.model().complete("hi").text == "ok"
    assert harness.slept == [2.0]


def test_500_then_success_backs_off_with_jitter(harness):
    harness.reply_error(500)
    harness.reply_text("ok")

    assert harness.model().complete("hi").text == "ok"
    assert len(harness.slept) == 1 and 1.0 <= harness.slept[0] <= 2.0


def test_timeout_is_retried(harness):
    harness.reply_slow("too late")
    harness.reply_text("ok")

    assert harness.model().complete("hi").text == "ok"
    assert len(harness.slept) == 1


def test_transient_failures_give_up_after_the_configured_attempts(harness):
    for _ in range(3):
        harness.reply_error(503)

    with pytest.raises(ProviderUnavailable) as caught:
        harness.model().complete("hi")

    assert caught.value.attempts == 3 and caught.value.status == 503
    assert "gave up after 3 attempts" in str(caught.value)
    assert harness.n_requests == 3 and len(harness.slept) == 2


def test_a_retry_after_beyond_the_limit_is_not_waited_for(harness):
    harness.reply_error(429, {"retry-after": "3600"})

    with pytest.raises(ProviderUnavailable):
        harness.model().complete("hi")
    assert harness.n_requests == 1 and harness.slept == []


def test_401_fails_at_once(harness):
    harness.reply_error(401)

    with pytest.raises(ProviderAuthError) as caught:
        harness.model().complete("hi")

    assert caught.value.status == 401
    assert harness.n_requests == 1 and harness.slept == []


def test_400_fails_at_once(harness):
    harness.reply_error(400)

    with pytest.raises(ProviderBadRequest):
        harness.model().complete("hi")
    assert harness.n_requests == 1 and harness.slept == []


def test_tool_call_loop(harness):
    harness.reply_tool_calls([("call_1", "read_file", {"path": "src/app.py"})])
    harness.reply_text("The file is fine.")
    model = harness.model()
    conversation = [Message.user("Review src/app.py")]

    first = model.complete(conversation, tools=[READ_FILE])
    (call,) = first.tool_calls
    assert (call.name, call.arguments) == ("read_file", {"path": "src/app.py"})
    conversation += [first.as_message(), Message.tool_result(call, "print('hello')")]
    final = model.complete(conversation, tools=[READ_FILE])

    assert final.text == "The file is fine."
    assert "print('hello')" in harness.sent(1) and "call_1" in harness.sent(1)


def test_budget_stops_before_spending_more(harness):
    harness.reply_text("one")
    model = harness.model(budget={"max_tokens": 2})

    model.complete("hi")
    with pytest.raises(BudgetExceeded) as caught:
        model.complete("again")

    assert "token budget" in caught.value.reason
    assert harness.n_requests == 1
