"""Shared fixtures: every test gets a clean environment and, when it asks, a fresh workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import git_repo
from typer.testing import CliRunner

from orchestrator.llm.fake import remote_requests_forbidden
from orchestrator.state.setup import init
from orchestrator.state.workspace import Workspace

_PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "AIOS_BASE_URL",
)


@pytest.fixture(autouse=True, scope="session")
def no_remote_models() -> Iterator[None]:
    """Adapters refuse any server but a stub on this machine for the whole run."""
    with remote_requests_forbidden():
        yield


@pytest.fixture(scope="session")
def scan_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the scan caches of the run's workspaces, never the user's own cache."""
    return tmp_path_factory.mktemp("aios-cache")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, scan_cache_dir: Path) -> None:
    """No real keys, no outside workspace, no debug re-raise leak into a test."""
    for name in (*_PROVIDER_ENV, "AIOS_ROOT", "AIOS_ACTOR", "AIOS_DEBUG", "EDITOR", "VISUAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIOS_GIT_REMOTE", raising=False)  # a clone's shared remote (workflow.remote)
    monkeypatch.setenv("AIOS_CACHE_DIR", str(scan_cache_dir))
    monkeypatch.setenv("AIOS_MODEL", "fake")  # workflows name real models; tests script a fake
    monkeypatch.setenv("GIT_AUTHOR_NAME", "test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")


@pytest.fixture(autouse=True)
def forget_found_secrets() -> Iterator[None]:
    """Secrets one test's review found are masked in that test only (the registry is per process)."""
    from orchestrator import redact

    redact.forget()
    yield
    redact.forget()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh workspace owned by ``alice`` (owner, L0), with ``bob`` as an operator (L3)."""
    workspace, _ = init(git_repo(tmp_path / "repo"), owner="alice")
    text = workspace.project_file.read_text()
    members = "- name: alice\n  role: owner\n"
    assert members in text  # the shape `aios init` writes
    workspace.project_file.write_text(text.replace(members, members + "- name: bob\n  role: operator\n"))
    return Workspace(workspace.root)


@pytest.fixture
def cli(ws: Workspace):
    """Run ``aios`` in-process against ``ws`` as alice; returns the click Result."""
    from orchestrator.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, actor: str = "alice", input: str | None = None):
        env = {"AIOS_ROOT": str(ws.root), "AIOS_ACTOR": actor}
        return runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the throwaway PostgreSQL cluster ``.ci/postgres`` started (``AIOS_TEST_POSTGRES_URL``).

    Outside CI a test that needs it skips, saying how to start one; under CI its absence fails.
    """
    import os

    url = os.environ.get("AIOS_TEST_POSTGRES_URL")
    if url:
        return url
    why = "no PostgreSQL: run `export AIOS_TEST_POSTGRES_URL=$(.ci/postgres start)` first"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the test cluster for one test; dropped after it."""
    import uuid

    import psycopg

    name = f"aios_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
