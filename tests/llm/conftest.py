"""Fixtures for the provider layer: isolation, the stub server, and one harness per adapter.

A harness hides how an adapter's server answers (chat completion, Responses, Anthropic message,
or the fake's queue), so ``test_conformance.py`` runs one suite against every adapter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import wire
from stub_server import StubServer

from orchestrator.llm import get_model, settings_for
from orchestrator.llm._http import Where, error_for_status
from orchestrator.llm.fake import FakeModel, install_fake, remote_requests_forbidden
from orchestrator.llm.model import Model
from orchestrator.llm.replay import _recorders

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``local_model`` tests run only when asked for with ``-m local_model``."""
    if "local_model" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="opt-in, starts a real llama.cpp server: pytest -m local_model")
    for item in items:
        if "local_model" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No provider variables from the developer's shell, and no request may leave this machine."""
    for var in (*PROVIDER_ENV, *TRACING_ENV):
        monkeypatch.delenv(var, raising=False)
    with remote_requests_forbidden():
        yield
    _recorders.clear()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test keys, set in the environment."""
    for var, value in SECRETS.items():
        monkeypatch.setenv(var, value)
    return SECRETS


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with the test models.yaml (prices come from the shipped file)."""
    root = tmp_path / "ws"
    (root / "workflows").mkdir(parents=True)
    (root / "workflows" / "models.yaml").write_text(MODELS_YAML)
    return root


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
_NO_LANGCHAIN_OPENAI = pytest.mark.skipif(
    find_spec("langchain_openai") is None, reason="langchain-openai is not installed (pip install -e .[test])"
)
ADAPTERS = [
    *(pytest.param(k, marks=_NO_LANGCHAIN_OPENAI) if k.startswith("langchain") else k for k in STUB_ADAPTERS),
    "fake",
]
Harness = StubHarness | FakeHarness


@pytest.fixture(params=ADAPTERS)
def harness(
    request: pytest.FixtureRequest, stub: StubServer, workspace: Path, keys: dict[str, str]
) -> Iterator[Harness]:
    """Each adapter in turn, behind the same scripting calls."""
    if request.param == "fake":
        with install_fake(FakeModel()) as fake:
            yield FakeHarness(fake, workspace)
        return
    spec, body, error_body, suffix = STUB_ADAPTERS[request.param]
    yield StubHarness(request.param, spec, stub, workspace, body, error_body, stub.url + suffix)


def make_stub_harness(kind: str, stub: StubServer, workspace: Path) -> StubHarness:
    """A harness for one stub adapter (tests that are about one adapter only)."""
    spec, body, error_body, suffix = STUB_ADAPTERS[kind]
    return StubHarness(kind, spec, stub, workspace, body, error_body, stub.url + suffix)
