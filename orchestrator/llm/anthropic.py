"""The Anthropic adapter: the Messages API through the official ``anthropic`` SDK.

Structured output uses Anthropic's native ``output_config`` JSON schema, a forced tool call, or an
instruction in the system prompt (there is no JSON mode). The SDK is imported lazily.
"""

from __future__ import annotations

from typing import Any

from orchestrator.llm._http import Where, translate
from orchestrator.llm.base import ChatRequest, ChatResponse, Message, ToolCall, Usage
from orchestrator.llm.errors import ProviderResponseError
from orchestrator.llm.structured import instruction, strict_schema
from orchestrator.redact import install_log_filter

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
}
_CHOICES = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
#: Anthropic requires max_tokens on every request.
DEFAULT_MAX_TOKENS = 4096


class AnthropicProvider:
    """One Anthropic model.

    Args:
        model: the model name sent on the wire.
        client: an ``anthropic.Anthropic`` client to use instead of building one.
        api_key: the key (sent as ``Authorization: Bearer``).
        base_url: the API root, without ``/v1``; ``None`` for Anthropic's own.
        timeout_s: read timeout per attempt; ``connect_timeout_s`` for the connection.
        spec: the model string, for error messages.
        key_env: the key's variable, for error messages.
    """

    name = "anthropic"
    supports_tools = True
    structured_mechanisms: frozenset[str] = frozenset({"json_schema", "tool_call", "text"})

    def __init__(
        self,
        model: str,
        *,
        client: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        spec: str | None = None,
        key_env: str | None = None,
    ) -> None:
        self.model = model
        self.where = Where(
            provider=self.name,
            model=spec or f"anthropic:{model}",
            base_url=base_url,
            key_env=key_env,
            timeout_s=timeout_s,
        )
        self._client = client or _make_client(api_key, base_url, timeout_s, connect_timeout_s)
        install_log_filter("anthropic", "anthropic._base_client")

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` and return the reply; SDK errors become ``ModelError``s here, once."""
        import anthropic

        try:
            raw = self._client.messages.create(**messages_kwargs(self.model, request))
        except anthropic.AnthropicError as exc:
            raise translate(exc, anthropic, where=self.where) from exc
        try:
            return parse_message(raw)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            raise ProviderResponseError(
                f"the server's reply is not a message ({type(exc).__name__}: {exc})", **self.where.fields()
            ) from exc


def _make_client(
    api_key: str | None, base_url: str | None, timeout_s: float, connect_timeout_s: float
) -> Any:
    import anthropic

    # max_retries=0: tenacity owns retries (orchestrator.llm.retry); two loops would multiply attempts.
    timeout = anthropic.Timeout(timeout_s, connect=connect_timeout_s)
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


def messages_kwargs(model: str, request: ChatRequest) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for ``request``."""
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": wire_messages(request.messages),
    }
    if system := _system(request):
        kwargs["system"] = system
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    _add_tools(kwargs, request)
    output = request.output
    if output is not None and output.mechanism == "json_schema":
        kwargs["output_config"] = {
            "format": {"type": "json_schema", "schema": strict_schema(output.json_schema)}
        }
    return kwargs


def _system(request: ChatRequest) -> str:
    parts = [m.content for m in request.messages if m.role == "system" and m.content]
    if request.output is not None and request.output.mechanism == "text":
        parts.append(instruction(request.output))
    return "\n\n".join(parts)


def _add_tools(kwargs: dict[str, Any], request: ChatRequest) -> None:
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
    ]
    choice = request.tool_choice
    output = request.output
    if output is not None and output.mechanism == "tool_call":
        tools.append(
            {
                "name": output.name,
                "description": "Give your answer as the input of this tool.",
                "input_schema": output.json_schema,
            }
        )
        choice = output.name
    if tools:
        kwargs["tools"] = tools
    if choice is not None:
        kwargs["tool_choice"] = _CHOICES.get(choice) or {"type": "tool", "name": choice}


def wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Messages as Anthropic wants them: system moved out, tool results as user blocks, roles alternating."""
    wire: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)  # consecutive same-role messages merge into one
        else:
            wire.append({"role": role, "content": blocks})
    return wire


def _blocks(m: Message) -> list[dict[str, Any]]:
    if m.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": m.tool_call_id,
                "content": m.content,
                "is_error": m.is_error,
            }
        ]
    # Anthropic rejects empty text blocks.
    blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in m.tool_calls]
    return blocks


def parse_message(raw: Any) -> ChatResponse:
    """An Anthropic ``Message`` as a ``ChatResponse``."""
    text, calls = "", list[ToolCall]()
    for block in raw.content:
        if block.type == "text":
            text += block.text
        elif block.type == "tool_use":
            calls.append(_tool_call(block))
    stop = raw.stop_reason or ""
    return ChatResponse(
        text=text,
        tool_calls=tuple(calls),
        usage=_usage(raw.usage),
        finish_reason=_FINISH.get(stop, stop or None),
        refusal=text if stop == "refusal" else None,
        model=raw.model or "",
    )


def _tool_call(block: Any) -> ToolCall:
    if isinstance(block.input, dict):
        return ToolCall(id=block.id, name=block.name, arguments=block.input)
    return ToolCall(id=block.id, name=block.name, invalid_arguments=str(block.input))


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    cached = getattr(usage, "cache_read_input_tokens", None) or 0
    created = getattr(usage, "cache_creation_input_tokens", None) or 0
    # Anthropic counts cache reads and writes apart from input_tokens; ours includes them.
    return Usage(
        input_tokens=(usage.input_tokens or 0) + cached + created,
        output_tokens=usage.output_tokens or 0,
        cached_tokens=cached,
    )
