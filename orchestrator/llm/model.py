"""``Model``: a provider wrapped with what every call needs — budget, retries, recording, metering,
and for structured output the validation and the one repair turn.

Every provider, the fakes included, goes through this same path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel

from orchestrator.llm.base import ChatRequest, ChatResponse, Message, OutputSpec, Provider, ToolSpec
from orchestrator.llm.errors import ModelError, StructuredOutputError
from orchestrator.llm.replay import Recorder
from orchestrator.llm.retry import Sleep, call_with_retries
from orchestrator.llm.settings import ModelSettings
from orchestrator.llm.structured import Rejected, output_spec, repair_messages, validate_reply
from orchestrator.llm.usage import Budget, Price, UsageMeter
from orchestrator.redact import redact, redact_data

T = TypeVar("T", bound=BaseModel)
#: What ``complete`` and ``structured`` accept: a prompt, or messages as objects or plain mappings.
Messages: TypeAlias = "str | Sequence[Message | Mapping[str, Any]]"
Tools: TypeAlias = "Sequence[ToolSpec | Mapping[str, Any]]"


class Model:
    """A ready-to-call model: build it with ``orchestrator.llm.get_model``.

    Args:
        provider: the adapter bound to one model.
        spec: the model string (``openai:gpt-4o-mini``): the name in the meter, errors and recordings.
        settings: its entry from ``workflows/models.yaml``.
        meter: the task's meter (a fresh one when not given).
        budget: the task's budget, checked before every call.
        price: the model's price (``None``: cost unknown, tokens still counted).
        recorder: where to record every request/response pair.
        sleep: what waits between retries (tests pass a list's ``append``).
    """

    def __init__(
        self,
        provider: Provider,
        *,
        spec: str,
        settings: ModelSettings | None = None,
        meter: UsageMeter | None = None,
        budget: Budget | None = None,
        price: Price | None = None,
        recorder: Recorder | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.provider = provider
        self.spec = spec
        self.settings = settings or ModelSettings()
        self.meter = meter if meter is not None else UsageMeter()
        self.budget = budget
        self.price = price
        self.recorder = recorder
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"Model({self.spec!r}, provider={self.provider.name!r})"

    def complete(
        self,
        messages: Messages,
        *,
        tools: Tools | None = None,
        tool_choice: str | None = None,
        node: str | None = None,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        """One call: the reply's text and/or tool calls.

        Args:
            messages: a prompt, or the conversation (tool results included, to loop on tool calls).
            tools: tools the model may call (name, description, JSON-schema ``parameters``).
            tool_choice: ``auto``, ``required``, ``none`` or the name of a tool to force.
            node: the workflow node making the call, for the meter.
            max_tokens: overrides the model's ``max_tokens`` setting.

        Raises:
            ModelError: the call failed (see ``orchestrator.llm.errors``).
        """
        request = self._request(
            as_messages(messages), tools=as_tools(tools or ()), tool_choice=tool_choice, max_tokens=max_tokens
        )
        return self.send(request, node=node)

    def structured(
        self, messages: Messages, schema: type[T], *, node: str | None = None, max_tokens: int | None = None
    ) -> T:
        """A validated ``schema`` instance; a reply that does not validate gets one repair turn.

        Example:
            plan = model.structured("Plan the change.", Plan, node="builder")

        Raises:
            StructuredOutputError: the repaired reply did not validate either (``reason`` says why).
            ModelError: a call failed.
        """
        output = output_spec(schema, self.settings.structured)
        conversation = as_messages(messages)
        response = self._structured_call(conversation, output, node, max_tokens)
        try:
            return validate_reply(response, schema, output)
        except Rejected as first:
            conversation = [*conversation, *repair_messages(response, output, first.reason)]
        response = self._structured_call(conversation, output, node, max_tokens)
        try:
            return validate_reply(response, schema, output)
        except Rejected as second:
            raise StructuredOutputError(
                second.reason,
                raw=response.text or json.dumps([c.arguments for c in response.tool_calls]),
                schema=output.name,
                provider=self.provider.name,
                model=self.spec,
            ) from None

    def send(self, request: ChatRequest, *, node: str | None = None) -> ChatResponse:
        """Send a prepared request through budget, retries, recording and metering.

        Every secret is masked first: what the provider receives is also what is recorded.
        """
        request = scrubbed(request)
        if self.budget is not None:
            self.budget.check(self.meter, model=self.spec)
        response = call_with_retries(lambda: self._attempt(request), self.settings.retry, sleep=self._sleep)
        cost = self.price.cost(response.usage) if self.price is not None else None
        self.meter.record(
            model=self.spec, usage=response.usage, cost_usd=cost, latency_s=response.latency_s, node=node
        )
        return response

    def _attempt(self, request: ChatRequest) -> ChatResponse:
        start = time.perf_counter()
        response = self.provider.complete(request)
        response = response.model_copy(update={"latency_s": time.perf_counter() - start})
        if self.recorder is not None:
            self.recorder.write(model=self.spec, request=request, response=response)
        return response

    def _structured_call(
        self, conversation: list[Message], output: OutputSpec, node: str | None, max_tokens: int | None
    ) -> ChatResponse:
        request = self._request(conversation, output=output, max_tokens=max_tokens)
        try:
            return self.send(request, node=node)
        except ModelError as exc:
            if output.mechanism == "json_schema" and exc.status in (400, 422, 500):
                # llama.cpp answers 500 to json_schema; other servers 400: the mechanism is the likely cause.
                exc.fix = (
                    f"if this server lacks JSON-schema output, set structured: json_mode or tool_call "
                    f"for {self.spec} in workflows/models.yaml"
                )
            raise

    def _request(self, messages: list[Message], **fields: Any) -> ChatRequest:
        fields["max_tokens"] = fields.get("max_tokens") or self.settings.max_tokens
        return ChatRequest(messages=tuple(messages), temperature=self.settings.temperature, **fields)


def as_messages(messages: Messages) -> list[Message]:
    """Messages from a prompt string, ``Message`` objects or ``{"role": ..., "content": ...}`` mappings."""
    if isinstance(messages, str):
        return [Message.user(messages)]
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]


def as_tools(tools: Tools) -> tuple[ToolSpec, ...]:
    """Tool specs from ``ToolSpec`` objects or ``{"name", "description", "parameters"}`` mappings."""
    return tuple(t if isinstance(t, ToolSpec) else ToolSpec.model_validate(t) for t in tools)


def scrubbed(request: ChatRequest) -> ChatRequest:
    """``request`` with every message (text and tool-call arguments) passed through the redactor."""
    return request.model_copy(update={"messages": tuple(_scrub(m) for m in request.messages)})


def _scrub(message: Message) -> Message:
    calls = tuple(
        c.model_copy(
            update={
                "arguments": redact_data(c.arguments),
                "invalid_arguments": c.invalid_arguments and redact(c.invalid_arguments),
            }
        )
        for c in message.tool_calls
    )
    return message.model_copy(update={"content": redact(message.content), "tool_calls": calls})
