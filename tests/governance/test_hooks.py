"""``aios hooks install``: in a real git repository, a broken TaskCard blocks the commit and
inconsistent state blocks the push (to a local bare remote); good ones pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import new_task

from orchestrator.errors import AiosError
from orchestrator.governance import hooks
from orchestrator.state.workspace import Workspace


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def repo(ws: Workspace, tmp_path: Path) -> Workspace:
    """``ws`` with one task, everything committed, hooks installed and a bare remote ``origin``."""
    new_task(ws)
    assert git(ws.root, "add", "-A").returncode == 0
    assert git(ws.root, "commit", "-qm", "workspace").returncode == 0
    hooks.install(ws.root, python=sys.executable)
    bare = tmp_path / "remote.git"
    assert git(tmp_path, "init", "-q", "--bare", str(bare)).returncode == 0
    assert git(ws.root, "remote", "add", "origin", str(bare)).returncode == 0
    return ws


def test_a_commit_with_a_broken_taskcard_is_blocked_and_a_good_one_passes(repo: Workspace) -> None:
    card = repo.inbox_dir / "TASK_DEV_0001.md"
    good = card.read_text()
    card.write_text(good.replace("priority: 3", "priority: 9"))
    git(repo.root, "add", "-A")
    blocked = git(repo.root, "commit", "-qm", "broken card")
    assert blocked.returncode != 0
    assert (
        "tasks/inbox/TASK_DEV_0001.md:5: priority: Input should be less than or equal to 5" in blocked.stderr
    )
    card.write_text(good.replace("Do a thing", "Do a better thing"))
    git(repo.root, "add", "-A")
    passed = git(repo.root, "commit", "-qm", "good card")
    assert passed.returncode == 0, passed.stderr
    (repo.root / "notes.md").write_text("no card staged\n")
    git(repo.root, "add", "-A")
    assert git(repo.root, "commit", "-qm", "no card").returncode == 0


def test_a_push_with_inconsistent_state_is_blocked_and_a_consistent_one_passes(repo: Workspace) -> None:
    assert git(repo.root, "push", "-q", "origin", "main").returncode == 0
    task_file = repo.task_file("TASK_DEV_0001")
    task_file.write_text(task_file.read_text().replace("status: inbox", "status: done"))
    git(repo.root, "commit", "-qam", "skip the review")
    blocked = git(repo.root, "push", "-q", "origin", "main")
    assert blocked.returncode != 0
    assert "status is done, but its last event left it inbox" in blocked.stderr
    assert git(repo.root, "rev-parse", "origin/main").stdout == git(repo.root, "rev-parse", "main~1").stdout


def test_a_foreign_hook_is_refused_or_chained(ws: Workspace) -> None:
    folder = hooks.hooks_dir(ws.root)
    folder.mkdir(parents=True, exist_ok=True)
    foreign = folder / "pre-commit"
    foreign.write_text("#!/bin/sh\necho theirs >&2\nexit 0\n")
    foreign.chmod(0o755)
    with pytest.raises(AiosError) as caught:
        hooks.install(ws.root, python=sys.executable)
    assert caught.value.message == "a pre-commit hook aios did not write is installed"
    assert not (folder / "pre-push").exists()  # refused before writing anything
    done = hooks.install(ws.root, python=sys.executable, chain=True)
    assert [(h.name, h.chained) for h in done] == [("pre-commit", folder / "pre-commit.before-aios"),
                                                   ("pre-push", None)]  # fmt: skip
    assert (folder / "pre-commit.before-aios").read_text().startswith("#!/bin/sh\necho theirs")
    git(ws.root, "add", "-A")
    committed = git(ws.root, "commit", "-qm", "chained")
    assert committed.returncode == 0 and "theirs" in committed.stderr
    again = hooks.install(ws.root, python=sys.executable)  # our own hooks are rewritten, the chain kept
    assert again[0].chained == folder / "pre-commit.before-aios"


def test_core_hooks_path_is_where_the_hooks_go(ws: Workspace) -> None:
    git(ws.root, "config", "core.hooksPath", "githooks")
    done = hooks.install(ws.root, python=sys.executable)
    assert {h.path for h in done} == {ws.root / "githooks" / "pre-commit", ws.root / "githooks" / "pre-push"}
