"""``aios init`` keeps machine-local files out of git: locks, run locks, checkpoints, worktrees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import git_repo

from orchestrator.errors import StateError
from orchestrator.state.setup import GITIGNORE_HEADER, init

PATTERNS = [
    "/.aios/",
    "/state/.lock",
    "/state/.run-*.lock",
    "/state/.journal",
    "/state/checkpoints.sqlite",
    "/state/checkpoints.sqlite-*",
    "/state/**/.*.tmp",
    "/ops/reviews/_baseline/",
]


def ignored(repo: Path, *paths: str) -> set[str]:
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=repo, capture_output=True, text=True, check=False
    )
    return set(done.stdout.split())


def test_init_writes_the_gitignore(tmp_path: Path) -> None:
    ws, created = init(git_repo(tmp_path / "repo"), owner="alice")
    assert created[-1] == ".gitignore"
    assert (ws.root / ".gitignore").read_text() == "\n".join([GITIGNORE_HEADER, *PATTERNS]) + "\n"


def test_locks_checkpoints_and_worktrees_are_ignored_and_the_record_is_not(tmp_path: Path) -> None:
    ws, _ = init(git_repo(tmp_path / "repo"), owner="alice")
    local = [
        "state/.lock",
        "state/.run-TASK_DEV_0001.lock",
        "state/.journal",
        "state/checkpoints.sqlite",
        "state/checkpoints.sqlite-wal",
        "state/tasks/.TASK_DEV_0001.yaml.abc123.tmp",
        ".aios/worktrees/TASK_DEV_0001/app.py",
        "ops/reviews/_baseline/0123abcd.tests.ff.json",
    ]
    record = [
        "state/project.yaml",
        "state/tasks.yaml",
        "state/tasks/TASK_DEV_0001.yaml",
        "state/agents.yaml",
        "state/sessions.yaml",
        "tasks/inbox/TASK_DEV_0001.md",
        "ops/audit/TASK_DEV_0001.md",
        "ops/reviews/TASK_DEV_0001/round-1.md",
        "src/state/.lock",  # the project's own files of the same name elsewhere
    ]
    assert ignored(ws.root, *local, *record) == set(local)


def test_init_keeps_the_users_lines_and_adds_only_what_is_missing(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("*.pyc\n/state/.lock\n.venv/")  # no final newline
    ws, created = init(repo, owner="alice")
    assert ".gitignore" in created
    lines = (ws.root / ".gitignore").read_text().splitlines()
    assert lines[:3] == ["*.pyc", "/state/.lock", ".venv/"]
    assert lines[3:] == ["", GITIGNORE_HEADER, *[p for p in PATTERNS if p != "/state/.lock"]]


def test_a_second_init_changes_nothing(tmp_path: Path) -> None:
    ws, _ = init(git_repo(tmp_path / "repo"), owner="alice")
    with (ws.root / ".gitignore").open("a") as fh:
        fh.write("my-own-line\n")
    before = (ws.root / ".gitignore").read_text()
    _, created = init(ws.root, owner="alice")
    assert created == []
    assert (ws.root / ".gitignore").read_text() == before


def test_a_pattern_the_user_removed_comes_back_once_without_a_second_header(tmp_path: Path) -> None:
    ws, _ = init(git_repo(tmp_path / "repo"), owner="alice")
    gitignore = ws.root / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace("/.aios/\n", ""))
    init(ws.root, owner="alice")
    text = gitignore.read_text()
    assert text.count("/.aios/") == 1 and text.count(GITIGNORE_HEADER) == 1


def test_a_gitignore_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / ".gitignore").mkdir()
    with pytest.raises(StateError, match="cannot read it") as err:
        init(repo, owner="alice")
    assert err.value.file == str(repo / ".gitignore") and err.value.fix
