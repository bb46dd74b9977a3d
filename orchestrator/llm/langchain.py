"""The langchain adapter: any langchain-core ``BaseChatModel`` (Bedrock, Vertex, Azure, Mistral, Groq,
Ollama, ...) behind the same ``Model`` as the native adapters: budget, retries, structured output,
metering and recording work unchanged.

The model string names the class, ``langchain:<module>:<Class>`` (or ``<module>.<Class>``), with an
optional ``/<model>`` passed as its ``model`` keyword; the class's other keyword arguments come from
``options`` in ``workflows/models.yaml``::

    "langchain:langchain_openai:ChatOpenAI/*":
      options: {base_url: "http://127.0.0.1:8000/v1"}
      api_key_env: OPENAI_API_KEY

Structured output uses a forced tool call (``bind_tools``) or the ``text`` instruction; JSON mode
and native JSON schemas have no portable langchain spelling. The integration's own retries are
turned off (``max_retries=0``) because ``orchestrator.llm.retry`` owns them. langchain is imported
when the first model is built, never by ``import orchestrator.llm``.

Like every adapter it receives requests already scrubbed of secrets; LangSmith tracing, when the
user's environment turns it on, sees only those.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.llm._http import Where, body_text, error_for_status
from orchestrator.llm.base import ChatRequest, ChatResponse, ToolCall, ToolSpec, Usage
from orchestrator.llm.errors import ModelError, ProviderBadRequest, ProviderResponseError, ProviderUnavailable
from orchestrator.llm.structured import output_tool, with_instruction

_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "STOP": "stop",
    "length": "length",
    "max_tokens": "length",
    "MAX_TOKENS": "length",
    "tool_calls": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "refusal",
    "refusal": "refusal",
}
#: Option names that hold a key: keys come from the environment (``api_key_env``), never a file.
_SECRET_OPTION = re.compile(r"(?i)api_?key|(^|_)key$|secret|passw(or)?d|credential|(^|_)token$")
#: Where integrations keep their server's address, to refuse remote ones while requests are off.
_URL_FIELDS = (
    "base_url",
    "openai_api_base",
    "anthropic_api_url",
    "azure_endpoint",
    "endpoint_url",
    "endpoint",
)
_FAKES_MODULE = "langchain_core.language_models.fake_chat_models"


class LangChainProvider:
    """One langchain-core chat model.

    Args:
        chat: the ``BaseChatModel`` instance (built by ``build_chat_model``).
        spec: the model string, for error messages and the meter.
    """

    name = "langchain"

    def __init__(self, chat: Any, *, spec: str) -> None:
        self.chat = chat
        self.model = str(
            getattr(chat, "model_name", None) or getattr(chat, "model", None) or type(chat).__name__
        )
        self.where = Where(provider=self.name, model=spec)
        self.supports_tools = _can_bind_tools(chat)
        self.structured_mechanisms: frozenset[str] = frozenset(
            {"tool_call", "text"} if self.supports_tools else {"text"}
        )
        self._call_fields = _fields(type(chat))

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` through the chat model; its exceptions become ``ModelError``s here, once."""
        try:
            reply = self._runnable(request).invoke(to_langchain(request), **self._call_kwargs(request))
        except ModelError:
            raise
        except Exception as exc:  # an integration may raise anything: classify it once, here
            raise translate(exc, where=self.where) from exc
        try:
            return from_langchain(reply)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ProviderResponseError(
                f"the chat model's reply is not a message ({type(exc).__name__}: {exc})",
                **self.where.fields(),
            ) from exc

    def _runnable(self, request: ChatRequest) -> Any:
        tools = [*request.tools, *output_tool(request)]
        if not tools:
            return self.chat
        if not self.supports_tools:
            raise ProviderBadRequest(
                f"{type(self.chat).__name__} cannot call tools (it has no bind_tools)",
                fix="use a chat model class that supports tool calling, and structured: text",
                **self.where.fields(),
            )
        return self.chat.bind_tools([_openai_tool(t) for t in tools], tool_choice=_tool_choice(request))

    def _call_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        # Only what the class declares: other integrations may reject an unknown keyword.
        wanted = {"max_tokens": request.max_tokens, "temperature": request.temperature}
        return {k: v for k, v in wanted.items() if v is not None and k in self._call_fields}


def build_chat_model(
    class_path: str,
    options: Mapping[str, Any],
    *,
    spec: str,
    api_key: str | None = None,
    timeout_s: float | None = None,
) -> Any:
    """The chat model at ``class_path`` built with ``options`` and what aios decides (retries, timeout).

    Args:
        class_path: ``module:Class`` or ``module.Class``.
        options: the keyword arguments from ``workflows/models.yaml``.
        spec: the model string, for error messages.
        api_key: the key from ``api_key_env``, passed as ``api_key``.
        timeout_s: the read timeout, passed as ``timeout`` when the class takes one.

    Raises:
        UnknownModel: the path names no importable class, the class is not a ``BaseChatModel``,
            an option holds a key, or the class refuses the options.
    """
    from orchestrator.llm.errors import UnknownModel

    for name in options:
        if _SECRET_OPTION.search(name):
            raise UnknownModel(
                f"the option {name!r} would write a key into a file",
                model=spec,
                file="workflows/models.yaml",
                field=f"options.{name}",
                fix="remove it, and name the environment variable that holds the key in api_key_env",
            )
    cls = load_class(class_path, spec=spec)
    # Retries belong to orchestrator.llm.retry: the integration's own would multiply the attempts.
    defaults = {"max_retries": 0, "timeout": timeout_s, "api_key": api_key}
    accepted = _fields(cls)
    kwargs = {k: v for k, v in defaults.items() if v is not None and k in accepted} | dict(options)
    try:
        return cls(**kwargs)
    except Exception as exc:  # pydantic ValidationError, TypeError, or the integration's own check
        raise UnknownModel(
            f"{class_path} refused its options: {_one_line(exc)}",
            model=spec,
            file="workflows/models.yaml",
            field="options",
            fix=f"check the keyword arguments {class_path} takes in its documentation",
        ) from None


def load_class(class_path: str, *, spec: str) -> type[Any]:
    """The class at ``module:Class`` or ``module.Class``, checked to be a langchain-core chat model.

    Raises:
        UnknownModel: not importable, no such class, or not a ``BaseChatModel``.
    """
    from langchain_core.language_models import BaseChatModel

    from orchestrator.llm.errors import UnknownModel

    module_name, sep, attr = class_path.rpartition(":") if ":" in class_path else class_path.rpartition(".")
    example = "langchain:langchain_openai:ChatOpenAI"
    if not sep or not module_name or not attr:
        raise UnknownModel(
            "not a class path", model=spec, fix=f"write langchain:<module>:<Class>, e.g. {example}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownModel(
            f"cannot import {module_name} ({exc})",
            model=spec,
            fix=f"install the integration package that provides it (pip install {_package(module_name)})",
        ) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseChatModel)):
        what = "has no" if cls is None else "is not a langchain-core BaseChatModel:"
        raise UnknownModel(
            f"{module_name} {what} {attr}",
            model=spec,
            fix=f"name a chat model class (a BaseChatModel subclass), e.g. {example}",
        )
    return cls


def check_chat_model(chat: Any, *, spec: str) -> None:
    """Refuse an injected object that is not a langchain-core chat model instance.

    Raises:
        UnknownModel: ``chat`` is not a ``BaseChatModel``.
    """
    from langchain_core.language_models import BaseChatModel

    from orchestrator.llm.errors import UnknownModel

    if not isinstance(chat, BaseChatModel):
        raise UnknownModel(
            f"the client for a langchain model must be a BaseChatModel, not {type(chat).__name__}",
            model=spec,
            fix="pass an instance of a langchain-core chat model class",
        )


def server_url(chat: Any) -> str | None:
    """The address the chat model sends requests to, when it says (``None``: its vendor's default)."""
    for name in _URL_FIELDS:
        value = getattr(chat, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def is_fake(chat: Any) -> bool:
    """True for langchain-core's own fake chat models (and subclasses): they send nothing anywhere."""
    return any(c.__module__ == _FAKES_MODULE for c in type(chat).__mro__)


# -- requests -------------------------------------------------------------------------------------


def to_langchain(request: ChatRequest) -> list[Any]:
    """The request's messages as langchain messages, with any structured-output instruction."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list[Any] = []
    for m in with_instruction(request, mechanisms=("text",)):
        if m.role == "system":
            out.append(SystemMessage(content=m.content))
        elif m.role == "user":
            out.append(HumanMessage(content=m.content))
        elif m.role == "tool":
            status = "error" if m.is_error else "success"
            out.append(ToolMessage(content=m.content, tool_call_id=m.tool_call_id or "", status=status))
        else:
            valid = [c for c in m.tool_calls if c.invalid_arguments is None]
            invalid = [c for c in m.tool_calls if c.invalid_arguments is not None]
            out.append(
                AIMessage(
                    content=m.content,
                    tool_calls=[
                        {"name": c.name, "args": c.arguments, "id": c.id, "type": "tool_call"} for c in valid
                    ],
                    invalid_tool_calls=[
                        {
                            "name": c.name,
                            "args": c.invalid_arguments,
                            "id": c.id,
                            "error": None,
                            "type": "invalid_tool_call",
                        }
                        for c in invalid
                    ],
                )
            )
    return out


def _tool_choice(request: ChatRequest) -> str | None:
    if request.output is not None and request.output.mechanism == "tool_call":
        return request.output.name
    # langchain spells "a tool must be called" as "any" (ChatOpenAI turns it back into "required").
    return "any" if request.tool_choice == "required" else request.tool_choice


def _openai_tool(tool: ToolSpec) -> dict[str, Any]:
    # The OpenAI function format: every integration's bind_tools converts it to its own.
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


# -- replies --------------------------------------------------------------------------------------


def from_langchain(message: Any) -> ChatResponse:
    """An ``AIMessage`` as a ``ChatResponse``: text, tool calls, usage, finish reason."""
    calls = [
        ToolCall(id=c.get("id") or f"call_{i}", name=c["name"], arguments=c.get("args") or {})
        for i, c in enumerate(message.tool_calls)
    ]
    calls += [
        ToolCall(
            id=c.get("id") or f"call_{len(calls) + i}",
            name=c.get("name") or "",
            invalid_arguments=c.get("args") or "",
        )
        for i, c in enumerate(getattr(message, "invalid_tool_calls", None) or ())
    ]
    meta = message.response_metadata or {}
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    return ChatResponse(
        text=_text(message),
        tool_calls=tuple(calls),
        usage=_usage(getattr(message, "usage_metadata", None)),
        finish_reason=_FINISH.get(reason or "", reason) or ("tool_calls" if calls else "stop"),
        refusal=(message.additional_kwargs or {}).get("refusal"),
        model=str(meta.get("model_name") or meta.get("model") or ""),
    )


def _text(message: Any) -> str:
    if isinstance(message.content, str):
        return message.content
    text = message.text  # a property in langchain-core 1.x, a method before
    return str(text() if callable(text) and not isinstance(text, str) else text)


def _usage(usage: Mapping[str, Any] | None) -> Usage:
    if not usage:
        return Usage()
    details = usage.get("input_token_details") or {}
    return Usage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        cached_tokens=details.get("cache_read") or 0,
    )


# -- errors ---------------------------------------------------------------------------------------


def translate(exc: BaseException, *, where: Where) -> ModelError:
    """The ``ModelError`` for whatever an integration raised: by HTTP status when it carries one
    (openai, anthropic, httpx, requests, botocore all do, each in its own place), else by kind."""
    for err in _chain(exc):
        status, headers, body = _http_status(err)
        if status is not None:
            return error_for_status(status, body or str(err), headers, where=where)
    for err in _chain(exc):
        kind = type(err).__name__
        if isinstance(err, TimeoutError) or "Timeout" in kind:
            return ProviderUnavailable(f"no answer in time ({kind})", **where.fields())
        if isinstance(err, ConnectionError) or "Connect" in kind or "Throttl" in kind:
            return ProviderUnavailable(f"cannot reach the server ({kind}: {err})", **where.fields())
    return ProviderResponseError(f"the chat model failed: {type(exc).__name__}: {exc}", **where.fields())


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it: integrations often wrap the SDK's error in their own."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 5:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _http_status(err: BaseException) -> tuple[int | None, dict[str, str], str]:
    response = getattr(err, "response", None)
    status = getattr(err, "status_code", None) or getattr(response, "status_code", None)
    if isinstance(response, Mapping):  # botocore's ClientError keeps the response as a dict
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = (response.get("Error") or {}).get("Code", "")
        status = 429 if "Throttl" in str(code) else status
        return (status if isinstance(status, int) else None), {}, str(response.get("Error") or "")
    if not isinstance(status, int) or not (400 <= status < 600):
        return None, {}, ""
    headers = dict(getattr(response, "headers", None) or {})
    return status, headers, body_text(getattr(err, "body", None) or getattr(err, "message", None))


# -- helpers --------------------------------------------------------------------------------------


def _can_bind_tools(chat: Any) -> bool:
    from langchain_core.language_models import BaseChatModel

    return type(chat).bind_tools is not BaseChatModel.bind_tools


def _fields(cls: type[Any]) -> set[str]:
    """The keyword names a pydantic model class accepts: field names and aliases."""
    fields = getattr(cls, "model_fields", {})
    return set(fields) | {f.alias for f in fields.values() if getattr(f, "alias", None)}


def _package(module_name: str) -> str:
    return module_name.split(".")[0].replace("_", "-")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:297] + "...") if len(text) > 300 else (text or type(exc).__name__)
