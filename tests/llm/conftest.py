"""Fixtures for the provider layer: isolation, the stub server, and each adapter's harness in turn
(``harnesses``)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from harnesses import (
    MODELS_YAML,
    PROVIDER_ENV,
    SECRETS,
    STUB_ADAPTERS,
    TRACING_ENV,
    FakeHarness,
    Harness,
    make_stub_harness,
)
from stub_server import StubServer

from orchestrator.llm.fake import FakeModel, install_fake, remote_requests_forbidden
from orchestrator.llm.replay import _recorders


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


_NO_LANGCHAIN_OPENAI = pytest.mark.skipif(
    find_spec("langchain_openai") is None, reason="langchain-openai is not installed (pip install -e .[test])"
)
ADAPTERS = [
    *(pytest.param(k, marks=_NO_LANGCHAIN_OPENAI) if k.startswith("langchain") else k for k in STUB_ADAPTERS),
    "fake",
]


@pytest.fixture(params=ADAPTERS)
def harness(
    request: pytest.FixtureRequest, stub: StubServer, workspace: Path, keys: dict[str, str]
) -> Iterator[Harness]:
    """Each adapter in turn, behind the same scripting calls."""
    if request.param == "fake":
        with install_fake(FakeModel()) as fake:
            yield FakeHarness(fake, workspace)
        return
    yield make_stub_harness(request.param, stub, workspace)
