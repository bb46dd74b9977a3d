"""Backend settings: the variable over project.yaml, URLs checked, and a workspace id for shared servers."""

from __future__ import annotations

import pytest

from orchestrator.errors import StateError
from orchestrator.state import backends
from orchestrator.state.workspace import Workspace


def _configure(ws: Workspace, lines: str) -> Workspace:
    ws.project_file.write_text(ws.project_file.read_text() + lines)
    return Workspace(ws.root)


def test_embedded_defaults_when_nothing_is_set(ws: Workspace) -> None:
    assert backends.state_url(ws) is None
    assert backends.checkpoint_url(ws) is None
    assert backends.langgraph_url(ws) is None


def test_the_variable_wins_over_the_workspace_file(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _configure(ws, "backends:\n  state: postgresql://aios@db/a\n  langgraph: http://127.0.0.1:2024/\n")
    assert backends.state_url(ws) == "postgresql://aios@db/a"
    assert backends.langgraph_url(ws) == "http://127.0.0.1:2024"
    monkeypatch.setenv("AIOS_STATE_URL", "postgresql://aios@other/b")
    assert backends.state_url(ws) == "postgresql://aios@other/b"


def test_a_password_in_a_url_is_refused(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOS_CHECKPOINT_URL", "postgresql://aios:hunter2@db/a")
    with pytest.raises(StateError) as err:
        backends.checkpoint_url(ws)
    assert "AIOS_CHECKPOINT_URL" in err.value.message and "PGPASSWORD" in err.value.message
    assert "hunter2" not in err.value.message


def test_an_unknown_backend_key_is_an_error_naming_the_file(ws: Workspace) -> None:
    ws = _configure(ws, "backends:\n  queue: postgresql://aios@db/a\n")
    with pytest.raises(StateError) as err:
        _ = ws.project
    assert "project.yaml" in str(err.value.file) and "queue" in str(err.value.field)


def test_init_gives_each_workspace_its_own_id(tmp_path) -> None:
    from helpers import git_repo

    from orchestrator.state.setup import init

    one, _ = init(git_repo(tmp_path / "one"), owner="alice")
    two, _ = init(git_repo(tmp_path / "two"), owner="alice")
    assert one.project.id and two.project.id and one.project.id != two.project.id
    assert backends.workspace_id(one) == one.project.id


def test_a_workspace_without_an_id_is_named_by_its_project(ws: Workspace) -> None:
    text = ws.project_file.read_text()
    kept = [line for line in text.splitlines() if not line.startswith("id:")]
    ws.project_file.write_text("\n".join(kept) + "\n")
    ws = Workspace(ws.root)
    assert ws.project.id is None
    assert backends.workspace_id(ws) == ws.project.workspace_id != ""
