"""``aios init`` at the state layer: what a new workspace holds, and that a second run touches nothing."""

from __future__ import annotations

from pathlib import Path

from helpers import git_repo

from orchestrator.state.setup import init
from orchestrator.state.store import Store
from orchestrator.state.workspace import OPS_DIRS


def test_init_creates_the_workspace_at_the_repository_root(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / "src").mkdir()
    ws, created = init(repo / "src", owner="alice")
    assert ws.root == repo.resolve()
    assert created == [
        "state/tasks/",
        "tasks/inbox/",
        *(f"ops/{name}/" for name in OPS_DIRS),
        "state/project.yaml",
        "state/agents.yaml",
        "state/sessions.yaml",
        "state/tasks.yaml",
        ".gitignore",
    ]
    assert ws.project.member("alice") is not None
    assert Store(ws).read_index().tasks == {}


def test_a_second_init_creates_nothing_and_keeps_edited_files(tmp_path: Path) -> None:
    ws, _ = init(git_repo(tmp_path / "repo"), owner="alice")
    ws.agents_file.write_text("schema_version: 1\nagents: [edited]\n")
    again, created = init(ws.root, owner="bob")
    assert (again, created) == (ws, [])
    assert "edited" in ws.agents_file.read_text()
    assert again.project.member("bob") is None


def test_init_records_the_owners_git_email(tmp_path: Path) -> None:
    ws, _ = init(git_repo(tmp_path / "repo"), owner="alice", email="alice@example.com")
    owner = ws.project.member("alice")
    assert owner is not None and (owner.role, owner.email) == ("owner", "alice@example.com")
    assert ws.project.member_by_email("alice@example.com") == owner
    assert ws.project_file.read_text().startswith("# Members: `aios member list|add|remove`")
