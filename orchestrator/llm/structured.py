"""Structured output: how to ask for it (the four mechanisms), how to read it, and the repair turn.

The mechanism only changes how an adapter renders the request (``response_format``, a forced tool,
or an instruction). Reading the reply does not depend on it: a call of the output tool wins,
otherwise the text is parsed. So a recording made with one mechanism replays under any other.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator._yaml import field_path
from orchestrator.llm.base import ChatRequest, ChatResponse, Mechanism, Message, OutputSpec, ToolSpec

T = TypeVar("T", bound=BaseModel)

#: How many validation problems a repair turn (and the final error) lists.
MAX_LISTED_ERRORS = 5
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-]")


class Rejected(Exception):
    """A reply that does not validate; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=256)
def output_spec(schema: type[BaseModel], mechanism: Mechanism) -> OutputSpec:
    """The ``OutputSpec`` asking for an instance of ``schema`` by ``mechanism``.

    Cached: building a JSON schema costs ~0.1 ms, as much as the rest of the call's overhead.
    """
    name = _NAME_CHARS.sub("_", schema.__name__)[:64] or "output"
    return OutputSpec(name=name, json_schema=schema.model_json_schema(), mechanism=mechanism)


def instruction(output: OutputSpec) -> str:
    """The words added to the system prompt for the ``json_mode`` and ``text`` mechanisms."""
    schema = json.dumps(output.json_schema, separators=(",", ":"))
    return (
        "Reply with a single JSON object that validates against this JSON schema, and nothing else "
        f"(no prose, no code fences):\n{schema}"
    )


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` made acceptable to strict JSON-schema modes.

    Every object lists all its properties as required and forbids others, and defaults are
    dropped (OpenAI's strict mode and Anthropic's structured outputs insist on this). The reply is
    still validated against the original pydantic model.
    """
    out = copy.deepcopy(schema)
    _make_strict(out)
    return out


def _make_strict(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _make_strict(item)
        return
    if not isinstance(node, dict):
        return
    node.pop("default", None)
    props = node.get("properties")
    if isinstance(props, dict):
        node["additionalProperties"] = False
        node["required"] = list(props)
        for sub in props.values():
            _make_strict(sub)
    for key in ("items", "anyOf", "allOf", "oneOf", "prefixItems"):
        _make_strict(node.get(key))
    for key in ("$defs", "definitions"):
        for sub in (node.get(key) or {}).values():
            _make_strict(sub)


def validate_reply(response: ChatResponse, schema: type[T], output: OutputSpec) -> T:
    """The reply as a validated ``schema`` instance.

    Raises:
        Rejected: the reply holds no JSON object, or the object does not validate.
    """
    call = next((c for c in response.tool_calls if c.name == output.name), None)
    if call is not None:
        if call.invalid_arguments is not None:
            raise Rejected(
                f"the arguments of {call.name} are not a JSON object: {call.invalid_arguments[:200]!r}"
            )
        return _validate(schema, call.arguments)
    if response.refusal:
        raise Rejected(f"the model refused: {response.refusal}")
    return _validate(schema, _json_object(response))


def repair_messages(response: ChatResponse, output: OutputSpec, reason: str) -> list[Message]:
    """The turn that shows the model its reply and why it was rejected, asking for a corrected one."""
    ask = f"Your reply was rejected: {reason}. Answer again with a {output.name} object that fixes this."
    call = next((c for c in response.tool_calls if c.name == output.name), None)
    if call is not None:
        # A tool call must be answered by its result: the rejection is that result.
        return [Message.assistant(response.text, (call,)), Message.tool_result(call, ask, is_error=True)]
    said = [Message.assistant(response.text)] if response.text.strip() else []
    return [*said, Message.user(ask + " Reply with only the JSON object.")]


def _json_object(response: ChatResponse) -> Any:
    text = response.text.strip()
    cut = " (the reply was cut off at max_tokens)" if response.finish_reason == "length" else ""
    if not text:
        raise Rejected("the reply was empty" + cut)
    if fenced := _FENCE.match(text):
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except ValueError as exc:
        error = exc
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    raise Rejected(f"the reply is not JSON ({error}){cut}: {text[:120]!r}")


def _validate(schema: type[T], data: Any) -> T:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise Rejected(describe_validation_error(exc, schema)) from None


def describe_validation_error(exc: ValidationError, schema: type[BaseModel]) -> str:
    """The first few problems of ``exc`` in one line: ``steps: Field required; done: ...``."""
    errors = exc.errors(include_url=False)
    parts = [f"{field_path(tuple(e['loc']))}: {e['msg']}" for e in errors[:MAX_LISTED_ERRORS]]
    more = len(errors) - MAX_LISTED_ERRORS
    tail = f"; and {more} more" if more > 0 else ""
    return f"does not match {schema.__name__}: " + "; ".join(parts) + tail


OUTPUT_TOOL_DESCRIPTION = "Give your answer as the arguments of this call."


def with_instruction(request: ChatRequest, *, mechanisms: tuple[Mechanism, ...]) -> list[Message]:
    """The messages, with the JSON instruction added to the system prompt when the request's
    structured-output mechanism is one of ``mechanisms`` (those an adapter cannot enforce on the wire)."""
    messages = list(request.messages)
    if request.output is None or request.output.mechanism not in mechanisms:
        return messages
    words = instruction(request.output)
    if messages and messages[0].role == "system":
        return [Message.system(f"{messages[0].content}\n\n{words}"), *messages[1:]]
    return [Message.system(words), *messages]


def output_tool(request: ChatRequest) -> list[ToolSpec]:
    """The tool whose arguments are the answer, for the ``tool_call`` mechanism; else none."""
    output = request.output
    if output is None or output.mechanism != "tool_call":
        return []
    return [ToolSpec(name=output.name, description=OUTPUT_TOOL_DESCRIPTION, parameters=output.json_schema)]
