"""The OpenAI adapter: Chat Completions or the Responses API, through the official ``openai`` SDK.

An OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio) is this adapter with another
base URL; ``workflows/models.yaml`` says which structured-output mechanism it understands.
The SDK is imported when the first adapter is built, never by ``import orchestrator.llm``.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.llm._http import Where, translate
from orchestrator.llm.base import MECHANISMS, ChatRequest, ChatResponse, Message, ToolCall, ToolSpec, Usage
from orchestrator.llm.errors import ProviderResponseError
from orchestrator.llm.structured import output_tool, strict_schema, with_instruction
from orchestrator.redact import install_log_filter

_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "refusal"}


class OpenAIProvider:
    """One model behind an OpenAI-style API.

    Args:
        model: the model name sent on the wire.
        client: an ``openai.OpenAI`` client to use instead of building one (tests inject fakes).
        api_key: the key; ``None`` lets the SDK read ``OPENAI_API_KEY``.
        base_url: the API root, ending in ``/v1`` for compatible servers.
        timeout_s: read timeout per attempt; ``connect_timeout_s`` for the connection.
        api: ``chat`` (Chat Completions, the portable path) or ``responses``.
        spec: the model string, for error messages (``openai-compatible:smollm2``).
        key_env: the key's variable, for error messages.
        max_tokens_field: ``max_completion_tokens`` for OpenAI, ``max_tokens`` for older servers.
    """

    name = "openai"
    supports_tools = True
    structured_mechanisms: frozenset[str] = frozenset(MECHANISMS)

    def __init__(
        self,
        model: str,
        *,
        client: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        api: str = "chat",
        spec: str | None = None,
        key_env: str | None = None,
        max_tokens_field: str = "max_completion_tokens",
    ) -> None:
        self.model = model
        self.api = api
        self.max_tokens_field = max_tokens_field
        self.where = Where(
            provider=self.name,
            model=spec or f"openai:{model}",
            base_url=base_url,
            key_env=key_env,
            timeout_s=timeout_s,
        )
        self._client = client or _make_client(api_key, base_url, timeout_s, connect_timeout_s)
        install_log_filter("openai", "openai._base_client")

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` and return the reply; SDK errors become ``ModelError``s here, once."""
        import openai

        responses = self.api == "responses"
        try:
            if responses:
                raw = self._client.responses.create(**responses_kwargs(self.model, request))
            else:
                raw = self._client.chat.completions.create(**self.chat_kwargs(request))
        except openai.OpenAIError as exc:
            raise translate(exc, openai, where=self.where) from exc
        return self._read(raw, parse_response if responses else parse_chat)

    def chat_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for ``request``."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": chat_messages(request)}
        if request.max_tokens:
            kwargs[self.max_tokens_field] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        tools = [*request.tools, *output_tool(request)]
        if tools:
            kwargs["tools"] = [_chat_tool(t) for t in tools]
        if (choice := _tool_choice(request)) is not None:
            kwargs["tool_choice"] = (
                choice
                if choice in ("auto", "required", "none")
                else {"type": "function", "function": {"name": choice}}
            )
        if (fmt := _chat_format(request)) is not None:
            kwargs["response_format"] = fmt
        return kwargs

    def _read(self, raw: Any, parse: Any) -> ChatResponse:
        # Servers that speak "OpenAI-compatible" loosely can answer 200 with anything.
        try:
            return parse(raw)  # type: ignore[no-any-return]
        except (AttributeError, TypeError, IndexError, KeyError, ValueError) as exc:
            raise ProviderResponseError(
                f"the server's reply is not a chat completion ({type(exc).__name__}: {exc})",
                **self.where.fields(),
            ) from exc


def _make_client(
    api_key: str | None, base_url: str | None, timeout_s: float, connect_timeout_s: float
) -> Any:
    import openai

    # max_retries=0: tenacity owns retries (orchestrator.llm.retry); two loops would multiply attempts.
    timeout = openai.Timeout(timeout_s, connect=connect_timeout_s)
    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


# -- Chat Completions -----------------------------------------------------------------------------


def chat_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The request's messages on the Chat Completions wire, with any structured-output instruction."""
    return [_chat_message(m) for m in with_instruction(request, mechanisms=("json_mode", "text"))]


def _chat_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _arguments(c)}}
            for c in m.tool_calls
        ]
        # "" rather than null: llama-cpp-python's server rejects a null content; OpenAI takes either.
        return {"role": "assistant", "content": m.content, "tool_calls": calls}
    return {"role": m.role, "content": m.content}


def _chat_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _chat_format(request: ChatRequest) -> dict[str, Any] | None:
    output = request.output
    if output is None:
        return None
    if output.mechanism == "json_schema":
        schema = {"name": output.name, "schema": strict_schema(output.json_schema), "strict": True}
        return {"type": "json_schema", "json_schema": schema}
    if output.mechanism == "json_mode":
        # "schema" is llama.cpp's extension of JSON mode (a grammar); other servers ignore it.
        return {"type": "json_object", "schema": output.json_schema}
    return None


def parse_chat(raw: Any) -> ChatResponse:
    """A ``ChatCompletion`` as a ``ChatResponse``."""
    if not raw.choices:
        raise ValueError("no choices")
    choice = raw.choices[0]
    message = choice.message
    calls = tuple(
        _tool_call(c.id, c.function.name, c.function.arguments, i)
        for i, c in enumerate(message.tool_calls or ())
    )
    return ChatResponse(
        text=message.content or "",
        tool_calls=calls,
        usage=_chat_usage(raw.usage),
        finish_reason=_FINISH.get(choice.finish_reason or "", choice.finish_reason),
        refusal=getattr(message, "refusal", None),
        model=raw.model or "",
    )


def _chat_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cached_tokens=cached,
    )


# -- Responses API --------------------------------------------------------------------------------


def responses_kwargs(model: str, request: ChatRequest) -> dict[str, Any]:
    """The keyword arguments of ``responses.create`` for ``request`` (nothing stored server-side)."""
    kwargs: dict[str, Any] = {"model": model, "input": _response_items(request), "store": False}
    if request.max_tokens:
        kwargs["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    tools = [*request.tools, *output_tool(request)]
    if tools:
        kwargs["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in tools
        ]
    if (choice := _tool_choice(request)) is not None:
        kwargs["tool_choice"] = (
            choice if choice in ("auto", "required", "none") else {"type": "function", "name": choice}
        )
    if (fmt := _response_format(request)) is not None:
        kwargs["text"] = {"format": fmt}
    return kwargs


def _response_items(request: ChatRequest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for m in with_instruction(request, mechanisms=("json_mode", "text")):
        if m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id, "output": m.content})
            continue
        if m.content or not m.tool_calls:
            items.append({"role": m.role, "content": m.content})
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": _arguments(c)}
            for c in m.tool_calls
        )
    return items


def _response_format(request: ChatRequest) -> dict[str, Any] | None:
    output = request.output
    if output is None:
        return None
    if output.mechanism == "json_schema":
        return {
            "type": "json_schema",
            "name": output.name,
            "schema": strict_schema(output.json_schema),
            "strict": True,
        }
    if output.mechanism == "json_mode":
        return {"type": "json_object"}
    return None


def parse_response(raw: Any) -> ChatResponse:
    """A Responses API ``Response`` as a ``ChatResponse``."""
    text, refusal, calls = "", None, list[ToolCall]()
    for item in raw.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "output_text":
                    text += part.text
                elif part.type == "refusal":
                    refusal = part.refusal
        elif item.type == "function_call":
            calls.append(_tool_call(item.call_id, item.name, item.arguments, len(calls)))
    return ChatResponse(
        text=text,
        tool_calls=tuple(calls),
        usage=_response_usage(raw.usage),
        finish_reason=_response_finish(raw, calls, refusal),
        refusal=refusal,
        model=raw.model or "",
    )


def _response_finish(raw: Any, calls: list[ToolCall], refusal: str | None) -> str:
    details = getattr(raw, "incomplete_details", None)
    if getattr(details, "reason", None) == "max_output_tokens":
        return "length"
    return "refusal" if refusal else ("tool_calls" if calls else "stop")


def _response_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "input_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=usage.input_tokens or 0, output_tokens=usage.output_tokens or 0, cached_tokens=cached
    )


# -- shared ---------------------------------------------------------------------------------------


def _tool_choice(request: ChatRequest) -> str | None:
    if request.output is not None and request.output.mechanism == "tool_call":
        return request.output.name
    return request.tool_choice


def _tool_call(call_id: str | None, name: str, arguments: str | None, index: int) -> ToolCall:
    # Some compatible servers send no id; the conversation still needs one to answer the call.
    call_id = call_id or f"call_{index}"
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, arguments=parsed)
    return ToolCall(id=call_id, name=name, invalid_arguments=arguments or "")


def _arguments(call: ToolCall) -> str:
    return call.invalid_arguments if call.invalid_arguments is not None else json.dumps(call.arguments)
