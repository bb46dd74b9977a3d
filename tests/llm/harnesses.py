"""The provider tests' test keys and models.yaml, and one harness per adapter (fixtures:
``conftest``; kept here so that tests import them from a module no other folder's has the name of).

A harness hides how an adapter's server answers (chat completion, Responses, Anthropic message,
or the fake's queue), so ``test_conformance.py`` runs one suite against every adapter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wire
from stub_server import StubServer

from orchestrator.llm import get_model, settings_for
from orchestrator.llm._http import Where, error_for_status
from orchestrator.llm.fake import FakeModel
from orchestrator.llm.model import Model

#: Keys the tests put in the environment; no recording, log or error may contain them.
SECRETS = {
    "OPENAI_API_KEY": "sk-test-OPENAIsecret0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-test-ANTHROPICsecret0123456789",
    "AIOS_API_KEY": "local-SECRET-value-0123456789",
}
PROVIDER_ENV = (*SECRETS, "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "AIOS_BASE_URL", "OPENAI_ORG_ID")
#: langchain would send traces to LangSmith when these are on: no request may leave this machine.
TRACING_ENV = ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_API_KEY")

#: The test workspace's models.yaml: short timeouts, three attempts, one entry per mechanism.
MODELS_YAML = """\
schema_version: 1
models:
  "*":
    timeout_s: 0.3
    retry: {attempts: 3, initial_wait_s: 1, max_wait_s: 30, jitter_s: 1}
  "openai:responses": {api: responses}
  "openai-compatible:tools": {structured: tool_call}
  "anthropic:tools": {structured: tool_call}
  "anthropic:text": {structured: text}
"""


@dataclass
class StubHarness:
    """An adapter served by the stub server."""

    kind: str
    spec: str
    stub: StubServer
    workspace: Path
    body: Callable[..., dict[str, Any]]
    error_body: Callable[[int], dict[str, Any]]
    base_url: str
    slept: list[float] = field(default_factory=list)

    @property
    def mechanism(self) -> str:
        return settings_for(self.spec, workspace=self.workspace).structured

    def model(self, **kwargs: Any) -> Model:
        kwargs.setdefault("base_url", self.base_url)
        return get_model(self.spec, workspace=self.workspace, sleep=self.slept.append, **kwargs)

    def reply_text(self, text: str) -> None:
        self.stub.queue(200, self.body(text))

    def reply_structured(self, data: dict[str, Any]) -> None:
        """A structured answer in the form the mechanism asks for (valid or not)."""
        if self.mechanism == "tool_call":
            self.stub.queue(200, self.body(None, [("call_out", "Plan", data)]))
        else:
            self.stub.queue(200, self.body(json.dumps(data)))

    def reply_garbage(self) -> None:
        """An answer that is not JSON at all (or, for Anthropic tools, not an object of the schema)."""
        if self.mechanism != "tool_call":
            self.stub.queue(200, self.body("Sure! Here is the plan: step one, write a test"))
        elif self.kind.startswith("anthropic"):
            self.stub.queue(200, self.body(None, [("call_out", "Plan", {"plan": "write a test"})]))
        else:
            self.stub.queue(200, self.body(None, [("call_out", "Plan", "{steps: [write a test")]))

    def reply_tool_calls(self, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.stub.queue(200, self.body(None, calls))

    def reply_error(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.stub.queue(status, self.error_body(status), headers)

    def reply_slow(self, text: str) -> None:
        self.stub.queue(200, self.body(text), delay=1.0)

    @property
    def n_requests(self) -> int:
        return len(self.stub.requests)

    def sent(self, index: int) -> str:
        return json.dumps(self.stub.requests[index].body)


@dataclass
class FakeHarness:
    """The fake, scripted with the same calls; errors are the exceptions an adapter would raise."""

    fake: FakeModel
    workspace: Path
    kind: str = "fake"
    spec: str = "fake"
    mechanism: str = "json_schema"
    slept: list[float] = field(default_factory=list)

    def model(self, **kwargs: Any) -> Model:
        return get_model(self.spec, workspace=self.workspace, sleep=self.slept.append, **kwargs)

    def reply_text(self, text: str) -> None:
        self.fake.enqueue(text)

    def reply_structured(self, data: dict[str, Any]) -> None:
        self.fake.enqueue(data)

    def reply_garbage(self) -> None:
        self.fake.enqueue("Sure! Here is the plan: step one, write a test")

    def reply_tool_calls(self, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
        from orchestrator.llm import ToolCall

        self.fake.enqueue([ToolCall(id=i, name=n, arguments=a) for i, n, a in calls])

    def reply_error(self, status: int, headers: dict[str, str] | None = None) -> None:
        where = Where(provider="fake", model="fake")
        self.fake.enqueue(error_for_status(status, "stub error", headers or {}, where=where))

    def reply_slow(self, text: str) -> None:
        from orchestrator.llm import ProviderUnavailable

        self.fake.enqueue(ProviderUnavailable("no answer within 0.3 s", provider="fake", model="fake"))

    @property
    def n_requests(self) -> int:
        return len(self.fake.requests)

    def sent(self, index: int) -> str:
        return self.fake.requests[index].model_dump_json()


STUB_ADAPTERS: dict[str, tuple[str, Callable[..., dict[str, Any]], Callable[[int], dict[str, Any]], str]] = {
    # kind: (model string, reply body, error body, base URL suffix)
    "openai": ("openai:gpt-4o-mini", wire.chat_completion, wire.openai_error, "/v1"),
    "openai-responses": ("openai:responses", wire.openai_response, wire.openai_error, "/v1"),
    "openai-compatible": ("openai-compatible:local", wire.chat_completion, wire.openai_error, "/v1"),
    "openai-compatible-tools": ("openai-compatible:tools", wire.chat_completion, wire.openai_error, "/v1"),
    "anthropic": ("anthropic:claude-stub", wire.anthropic_message, wire.anthropic_error, ""),
    "anthropic-tools": ("anthropic:tools", wire.anthropic_message, wire.anthropic_error, ""),
    # A real langchain integration behind the langchain adapter (structured output by a forced tool).
    "langchain-openai": (
        "langchain:langchain_openai:ChatOpenAI/gpt-4o-mini",
        wire.chat_completion,
        wire.openai_error,
        "/v1",
    ),
}
Harness = StubHarness | FakeHarness


def make_stub_harness(kind: str, stub: StubServer, workspace: Path) -> StubHarness:
    """A harness for one stub adapter (tests that are about one adapter only)."""
    spec, body, error_body, suffix = STUB_ADAPTERS[kind]
    return StubHarness(kind, spec, stub, workspace, body, error_body, stub.url + suffix)
