"""Reading structured replies, the strict schema, and the repair turn's messages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from orchestrator.llm import ChatResponse, ToolCall
from orchestrator.llm.structured import Rejected, output_spec, repair_messages, strict_schema, validate_reply


class Item(BaseModel):
    default: str = "x"  # a field named like a JSON-schema keyword
    size: int | None = None


class Order(BaseModel):
    items: list[Item]
    note: str = ""


SPEC = output_spec(Order, "json_mode")


@pytest.mark.parametrize(
    "text",
    [
        '{"items": []}',
        '```json\n{"items": []}\n```',
        'Here is the order:\n{"items": []}\nThanks!',
    ],
)
def test_json_is_found_in_text(text):
    assert validate_reply(ChatResponse(text=text), Order, SPEC) == Order(items=[])


def test_reasons_are_short_and_specific():
    with pytest.raises(Rejected, match="the reply was empty"):
        validate_reply(ChatResponse(text="  "), Order, SPEC)
    with pytest.raises(Rejected, match=r"cut off at max_tokens"):
        validate_reply(ChatResponse(text='{"items": [', finish_reason="length"), Order, SPEC)
    with pytest.raises(Rejected, match=r"does not match Order: items\[0\]\.size"):
        validate_reply(ChatResponse(text='{"items": [{"size": "big"}]}'), Order, SPEC)


def test_the_output_tool_call_wins_over_text():
    response = ChatResponse(
        text="ignore me", tool_calls=(ToolCall(id="c", name="Order", arguments={"items": []}),)
    )
    assert validate_reply(response, Order, SPEC).items == []


def test_strict_schema_touches_schemas_not_field_names():
    schema = strict_schema(Order.model_json_schema())
    item = schema["$defs"]["Item"]

    assert set(item["properties"]) == {"default", "size"}  # the field named "default" survives
    assert item["required"] == ["default", "size"] and item["additionalProperties"] is False
    assert "default" not in item["properties"]["size"]
    assert schema["required"] == ["items", "note"]


def test_repair_answers_a_tool_call_with_its_result():
    call = ToolCall(id="c1", name="Order", arguments={"items": 3})
    messages = repair_messages(ChatResponse(tool_calls=(call,)), SPEC, "items: not a list")

    assert [m.role for m in messages] == ["assistant", "tool"]
    assert messages[1].tool_call_id == "c1" and messages[1].is_error
    assert "items: not a list" in messages[1].content


def test_repair_of_an_empty_text_reply_is_one_user_message():
    messages = repair_messages(ChatResponse(text=""), SPEC, "the reply was empty")
    assert [m.role for m in messages] == ["user"]
