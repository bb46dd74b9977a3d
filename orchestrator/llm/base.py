"""What flows through the provider layer: messages, requests, replies, usage, and the Provider protocol.

These types are the whole contract between the workflow and a model. They are plain, frozen
pydantic models so a request or a reply can be recorded as JSON and read back unchanged.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.llm.errors import RemoteRequestsDisabled

Role = Literal["system", "user", "assistant", "tool"]
Mechanism = Literal["json_schema", "json_mode", "tool_call", "text"]
#: Every way of asking for structured output, most to least native.
MECHANISMS: tuple[Mechanism, ...] = ("json_schema", "json_mode", "tool_call", "text")

#: Off in the test suite: adapters then refuse any server that is not on this machine.
ALLOW_REMOTE_REQUESTS = True
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCall(_Data):
    """A call the model wants made."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    invalid_arguments: str | None = None
    """The raw arguments when they were not a JSON object (``arguments`` is then empty)."""


class Message(_Data):
    """One chat message. A ``tool`` message carries the result of the call ``tool_call_id``."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    """Only on ``assistant`` messages: the calls the model asked for."""
    tool_call_id: str | None = None
    """Only on ``tool`` messages: which call this is the result of."""
    is_error: bool = False
    """Only on ``tool`` messages: the call failed and ``content`` says why."""

    @classmethod
    def system(cls, content: str) -> Message:
        """A system message."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        """A user message."""
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        """An assistant message, as the model sent it (text and/or tool calls)."""
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool_result(cls, call: ToolCall | str, content: str, *, is_error: bool = False) -> Message:
        """The result of a tool call, to send back to the model."""
        call_id = call if isinstance(call, str) else call.id
        return cls(role="tool", content=content, tool_call_id=call_id, is_error=is_error)


class ToolSpec(_Data):
    """A tool the model may call: a name, what it does, and a JSON schema of its arguments."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class OutputSpec(_Data):
    """A request for a structured reply: the schema, its name, and how to ask the server for it."""

    name: str
    json_schema: dict[str, Any]
    mechanism: Mechanism


class ChatRequest(_Data):
    """Everything a provider needs for one call, except the model and the key (the provider has those)."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    """``None`` or ``auto``, ``required``, ``none``, or the name of a tool the model must call."""
    output: OutputSpec | None = None
    max_tokens: int | None = None
    temperature: float | None = None


class Usage(_Data):
    """Tokens of one call (or a sum of calls). ``input_tokens`` includes the ``cached_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class ChatResponse(_Data):
    """A reply: text and/or tool calls, with the usage and latency of the call."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str | None = None
    """Normalised: ``stop``, ``length``, ``tool_calls``, ``refusal`` or the server's own word."""
    refusal: str | None = None
    model: str = ""
    """The model name the server reported."""
    latency_s: float = 0.0

    def as_message(self) -> Message:
        """The reply as an assistant message, to append to the conversation."""
        return Message.assistant(self.text, self.tool_calls)


@runtime_checkable
class Provider(Protocol):
    """One wire API bound to one model. Adapters translate SDK errors into ``orchestrator.llm.errors``."""

    name: str
    """The adapter: ``openai``, ``anthropic``, ``langchain``, ``replay``, ``fake``."""
    model: str
    """The model name sent on the wire."""
    supports_tools: bool
    structured_mechanisms: frozenset[str]

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send one request; return the reply or raise a ``ModelError``."""
        ...


def ensure_allowed(base_url: str | None, *, provider: str, model: str) -> None:
    """Refuse a non-local server while ``ALLOW_REMOTE_REQUESTS`` is off (the test suite turns it off).

    Raises:
        RemoteRequestsDisabled: the URL is not on this machine (``None`` means the vendor's API).
    """
    if ALLOW_REMOTE_REQUESTS:
        return
    host = urlsplit(base_url).hostname if base_url else None
    if host not in _LOCAL_HOSTS:
        raise RemoteRequestsDisabled(
            f"model requests to {base_url or 'the vendor API'} are disabled here",
            provider=provider,
            model=model,
            fix="point the model at a local stub server, or use the fake or replay models",
        )
