"""Public fakes for tests: a model whose replies a test scripts, run through the real ``Model`` path.

Two styles, mixable (queued replies are used first):

* a function, as pydantic-ai's ``FunctionModel``: it receives the messages and returns the reply;
* a queue of canned replies, as llm's ``MockModel.enqueue``.

A reply is a string (text), a ``ToolCall`` or a list of them, a mapping or pydantic object (a
structured answer: sent as the output tool's arguments or as JSON text, as the request asks), a
whole ``ChatResponse``, or an exception to raise (``ProviderUnavailable(...)`` to exercise retries).

Example:
    fake = FakeModel().enqueue({"steps": ["write test"], "done": False}, tool_call("read_file", path="a.py"))
    with install_fake(fake):
        model = get_model("fake")
        plan = model.structured("Plan it.", Plan)          # validated, metered, repairable
        reply = model.complete("Go.", tools=[{"name": "read_file"}])  # reply.tool_calls[0].arguments
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import BaseModel

from orchestrator.llm.base import (
    MECHANISMS,
    ChatRequest,
    ChatResponse,
    Message,
    OutputSpec,
    ToolCall,
    ToolSpec,
    Usage,
)
from orchestrator.llm.errors import ProviderResponseError, UnknownModel

__all__ = [
    "FakeInfo",
    "FakeModel",
    "Reply",
    "ReplyFunction",
    "install_fake",
    "installed_fake",
    "remote_requests_forbidden",
    "tool_call",
]

Reply: TypeAlias = (
    "str | ToolCall | Sequence[ToolCall] | Mapping[str, Any] | BaseModel | ChatResponse | BaseException"
)


@dataclass(frozen=True)
class FakeInfo:
    """What a reply function may want besides the messages."""

    request: ChatRequest
    tools: tuple[ToolSpec, ...]
    output: OutputSpec | None
    """Set when the caller asked for structured output (its schema and name)."""
    call_index: int
    """0 for the fake's first call, then 1, 2, ..."""


ReplyFunction: TypeAlias = Callable[[list[Message], FakeInfo], Reply]
_ids = itertools.count(1)


def tool_call(name: str, /, **arguments: Any) -> ToolCall:
    """A ``ToolCall`` with a fresh id: ``tool_call("read_file", path="a.py")``."""
    return ToolCall(id=f"call_fake_{next(_ids)}", name=name, arguments=arguments)


class FakeModel:
    """A provider whose replies come from a function and/or a queue. Thread-safe.

    Args:
        function: called with the messages and a ``FakeInfo`` when the queue is empty.
        model: the name it reports.

    Attributes:
        requests: every request it received, in order (assert on what the workflow sent).
    """

    name = "fake"
    supports_tools = True
    structured_mechanisms: frozenset[str] = frozenset(MECHANISMS)

    def __init__(self, function: ReplyFunction | None = None, *, model: str = "fake") -> None:
        self.function = function
        self.model = model
        self.requests: list[ChatRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()

    def enqueue(self, *replies: Reply) -> FakeModel:
        """Add canned replies, used in order before the function."""
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Queued replies not used yet."""
        return len(self._queue)

    def complete(self, request: ChatRequest) -> ChatResponse:
        """The next reply, rendered as the request asks (or the queued exception, raised)."""
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            reply = self._call_function(request, index)
        return render(reply, request, model=self.model)

    def _call_function(self, request: ChatRequest, index: int) -> Reply:
        if self.function is None:
            raise ProviderResponseError(
                "the fake model has no reply queued",
                provider=self.name,
                model=self.model,
                fix="enqueue() more replies or give the FakeModel a function",
            )
        info = FakeInfo(request=request, tools=request.tools, output=request.output, call_index=index)
        return self.function(list(request.messages), info)


def render(reply: Reply, request: ChatRequest, *, model: str = "fake") -> ChatResponse:
    """A reply as the ``ChatResponse`` a server would have sent for ``request``; an exception is raised."""
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, ChatResponse):
        return reply
    if isinstance(reply, ToolCall):
        return _response(request, calls=(reply,), model=model)
    if isinstance(reply, str):
        return _response(request, text=reply, model=model)
    if isinstance(reply, BaseModel | Mapping):
        data = reply.model_dump(mode="json") if isinstance(reply, BaseModel) else dict(reply)
        output = request.output
        if output is not None and output.mechanism == "tool_call":
            return _response(request, calls=(tool_call(output.name, **data),), model=model)
        return _response(request, text=json.dumps(data), model=model)
    return _response(request, calls=tuple(reply), model=model)


def _response(
    request: ChatRequest, *, text: str = "", calls: tuple[ToolCall, ...] = (), model: str
) -> ChatResponse:
    # Token counts: about four characters a token, so meters and budgets see plausible numbers.
    seen = sum(len(m.content) for m in request.messages)
    said = len(text) + sum(len(json.dumps(c.arguments)) for c in calls)
    usage = Usage(input_tokens=seen // 4 + 1, output_tokens=said // 4 + 1)
    finish = "tool_calls" if calls else "stop"
    return ChatResponse(text=text, tool_calls=calls, usage=usage, finish_reason=finish, model=model)


_installed: dict[str, FakeModel] = {}


@contextmanager
def install_fake(fake: FakeModel | ReplyFunction | None = None, *, spec: str = "fake") -> Iterator[FakeModel]:
    """Make ``get_model(spec)`` return models backed by ``fake`` inside the ``with`` block.

    Args:
        fake: a ``FakeModel``, or a reply function to wrap in one (an empty queue when None).
        spec: ``fake`` or ``fake:<name>`` (one fake per role, say).
    """
    model = fake if isinstance(fake, FakeModel) else FakeModel(fake)
    previous = _installed.get(spec)
    _installed[spec] = model
    try:
        yield model
    finally:
        if previous is None:
            _installed.pop(spec, None)
        else:
            _installed[spec] = previous


def installed_fake(spec: str = "fake") -> FakeModel:
    """The fake installed for ``spec`` (what ``get_model("fake")`` uses).

    Raises:
        UnknownModel: none is installed.
    """
    if spec not in _installed:
        raise UnknownModel(
            f"no fake model is installed as {spec!r}",
            model=spec,
            fix="wrap the code in `with orchestrator.llm.fake.install_fake(FakeModel(...)):`",
        )
    return _installed[spec]


@contextmanager
def remote_requests_forbidden() -> Iterator[None]:
    """Inside the block, adapters refuse any server not on this machine (wrap a test suite in it).

    Stub servers on 127.0.0.1, the fake and replay models keep working.
    """
    from orchestrator.llm import base

    previous, base.ALLOW_REMOTE_REQUESTS = base.ALLOW_REMOTE_REQUESTS, False
    try:
        yield
    finally:
        base.ALLOW_REMOTE_REQUESTS = previous
