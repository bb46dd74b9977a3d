from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.sandbox import git
from orchestrator.sandbox.git import GitError, MergeConflict

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The module must work with no git identity or config at all."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    for key in (*_IDENTITY, "EMAIL"):
        monkeypatch.delenv(key, raising=False)


def run(cwd: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", **_IDENTITY}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_file(cwd: Path, name: str, text: str) -> str:
    (cwd / name).write_text(text)
    run(cwd, "add", name)
    run(cwd, "commit", "-q", "-m", f"edit {name}")
    return run(cwd, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run(root, "init", "-q", "-b", "main")
    commit_file(root, "app.py", "a = 1\nb = 2\n")
    return root


def test_toplevel_finds_the_root_from_a_subdirectory(repo: Path) -> None:
    (repo / "sub").mkdir()
    assert git.toplevel(repo / "sub") == repo


def test_toplevel_outside_a_repository_says_git_init(tmp_path: Path) -> None:
    with pytest.raises(GitError) as err:
        git.toplevel(tmp_path)
    assert err.value.message == f"{tmp_path} is not inside a git repository"
    assert err.value.fix.startswith(f"run `git init` in {tmp_path} first")


def test_ensure_worktree_creates_the_task_branch_from_base(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "TASK_1", "main")
    assert wt == repo / ".aios" / "worktrees" / "TASK_1"
    assert run(wt, "symbolic-ref", "HEAD") == "refs/heads/task/TASK_1"
    assert git.head(wt) == git.head(repo, "main")
    assert run(repo, "status", "--porcelain") == ""  # .aios/ is excluded


def test_ensure_worktree_is_idempotent(repo: Path) -> None:
    first = git.ensure_worktree(repo, "TASK_1", "main")
    (first / "new.py").write_text("x = 1\n")
    sha = git.commit_all(first, "round 1")
    again = git.ensure_worktree(repo, "TASK_1", "main")
    assert again == first
    assert git.head(again) == sha
    assert (repo / ".git" / "info" / "exclude").read_text().splitlines().count(".aios/") == 1


def test_ensure_worktree_reuses_the_branch_after_removal(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "TASK_1", "main")
    (wt / "new.py").write_text("x = 1\n")
    sha = git.commit_all(wt, "round 1")
    git.remove_worktree(repo, "TASK_1")
    git.remove_worktree(repo, "TASK_1")  # idempotent
    assert not wt.exists()
    assert git.head(git.ensure_worktree(repo, "TASK_1", "main")) == sha


def test_remove_worktree_can_delete_the_branch(repo: Path) -> None:
    git.ensure_worktree(repo, "TASK_1", "main")
    git.remove_worktree(repo, "TASK_1", delete_branch=True)
    assert run(repo, "branch", "--list", "task/*") == ""


@pytest.mark.parametrize("task_id", ["../x", "a/b", "-rf", "x..y", "x.lock", ""])
def test_bad_task_ids_are_refused(repo: Path, task_id: str) -> None:
    with pytest.raises(GitError, match="bad task id"):
        git.ensure_worktree(repo, task_id, "main")


def test_unknown_base_is_a_git_error(repo: Path) -> None:
    with pytest.raises(GitError, match="worktree add"):
        git.ensure_worktree(repo, "TASK_1", "nope")


def test_commit_all_without_user_config(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "TASK_1", "main")
    assert git.commit_all(wt, "nothing") is None
    (wt / "app.py").write_text("a = 10\nb = 2\n")
    (wt / "new.py").write_text("x = 1\n")
    sha = git.commit_all(wt, "round 1")
    assert sha == git.head(wt)
    assert run(wt, "log", "-1", "--format=%an <%ae>|%cn|%s") == "aios <aios@localhost>|aios|round 1"
    assert run(wt, "status", "--porcelain") == ""


def test_commit_all_takes_an_author(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "TASK_1", "main")
    (wt / "new.py").write_text("x = 1\n")
    git.commit_all(wt, "round 1", author="Ada <ada@example.com>")
    assert run(wt, "log", "-1", "--format=%an <%ae>") == "Ada <ada@example.com>"
    with pytest.raises(GitError, match="bad author"):
        git.commit_all(wt, "x", author="nobody")


def test_diff_and_changed_files(repo: Path) -> None:
    commit_file(repo, "gone.py", "old\n")
    wt = git.ensure_worktree(repo, "TASK_1", "main")
    (wt / "app.py").write_text("a = 10\nb = 2\n")
    (wt / "new.py").write_text("x = 1\n")
    (wt / "gone.py").unlink()
    git.commit_all(wt, "round 1")
    commit_file(repo, "later.py", "on main after the fork\n")
    text = git.diff(wt, "main", "HEAD")
    assert "-a = 1\n+a = 10\n" in text
    assert "later.py" not in text  # base...head: only the task's own changes
    assert git.changed_files(wt, "main", "HEAD") == ["app.py", "new.py"]
    assert git.changed_files(wt, "main", "HEAD", deleted=True) == ["app.py", "gone.py", "new.py"]


def test_head_of_an_unknown_ref(repo: Path) -> None:
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        git.head(repo, "nope")


# --- merge ----------------------------------------------------------------------------------------


def task_with_change(repo: Path, text: str = "a = 1\nb = 20\n") -> Path:
    wt = git.ensure_worktree(repo, "TASK_1", "main")
    (wt / "app.py").write_text(text)
    git.commit_all(wt, "round 1")
    return wt


@pytest.fixture(params=["checked-out", "not-checked-out"])
def target(request: pytest.FixtureRequest, repo: Path) -> str:
    """Merge into ``main`` (checked out in the main worktree) or ``release`` (checked out nowhere)."""
    if request.param == "checked-out":
        return "main"
    run(repo, "branch", "release", "main")
    return "release"


def test_merge_creates_one_merge_commit(repo: Path, target: str) -> None:
    wt = task_with_change(repo)
    before = git.head(repo, target)
    sha = git.merge(repo, "task/TASK_1", target, message="Merge TASK_1")
    assert git.head(repo, target) == sha
    assert run(repo, "rev-list", "--parents", "-n1", sha).split()[1:] == [before, git.head(wt)]
    assert run(repo, "log", "-1", "--format=%s|%an", sha) == "Merge TASK_1|aios"
    assert run(repo, "status", "--porcelain") == ""
    assert (repo / "app.py").read_text() == ("a = 1\nb = 20\n" if target == "main" else "a = 1\nb = 2\n")


def test_merge_twice_merges_once(repo: Path, target: str) -> None:
    task_with_change(repo)
    sha = git.merge(repo, "task/TASK_1", target, message="Merge TASK_1")
    assert git.merge(repo, "task/TASK_1", target, message="Merge TASK_1") == sha
    run(repo, "checkout", "-q", target)
    commit_file(repo, "later.py", "x\n")  # the target moves on; the answer stays the same
    run(repo, "checkout", "-q", "main")
    assert git.merge(repo, "task/TASK_1", target, message="Merge TASK_1") == sha
    assert run(repo, "rev-list", "--merges", "--count", target) == "1"


def test_merge_conflict_changes_nothing(repo: Path, target: str) -> None:
    task_with_change(repo, "a = 1\nb = 'task'\n")
    run(repo, "checkout", "-q", target)
    before = commit_file(repo, "app.py", "a = 1\nb = 'main'\n")
    run(repo, "checkout", "-q", "main")
    main_before = git.head(repo, "main")
    with pytest.raises(MergeConflict) as err:
        git.merge(repo, "task/TASK_1", target, message="Merge TASK_1")
    assert err.value.message == f"task/TASK_1 conflicts with {target} in: app.py"
    assert git.head(repo, target) == before
    assert git.head(repo, "main") == main_before
    assert run(repo, "status", "--porcelain") == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()


def test_merge_refuses_a_dirty_checked_out_target(repo: Path) -> None:
    task_with_change(repo)
    (repo / "app.py").write_text("local edit\n")
    before = git.head(repo, "main")
    with pytest.raises(GitError, match="uncommitted changes to files the merge changes: app.py") as err:
        git.merge(repo, "task/TASK_1", "main", message="Merge TASK_1")
    assert err.value.fix == "commit or stash those changes, then approve again"
    assert git.head(repo, "main") == before
    assert (repo / "app.py").read_text() == "local edit\n"


def test_merge_ignores_untracked_files_in_the_target_worktree(repo: Path) -> None:
    task_with_change(repo)
    (repo / "notes.txt").write_text("mine\n")
    git.merge(repo, "task/TASK_1", "main", message="Merge TASK_1")
    assert (repo / "notes.txt").read_text() == "mine\n"


def test_merge_of_an_unknown_branch(repo: Path) -> None:
    with pytest.raises(GitError, match="unknown revision 'refs/heads/task/NOPE'"):
        git.merge(repo, "task/NOPE", "main", message="x")


def test_merge_leaves_unrelated_uncommitted_edits_alone(repo: Path) -> None:
    """aios's own state files are often tracked and change on every transition."""
    (repo / "state.yaml").write_text("status: running\n")
    git.commit_all(repo, "track state")
    wt = git.ensure_worktree(repo, "T9", "main")
    (wt / "feature.py").write_text("x = 1\n")
    git.commit_all(wt, "feature")
    (repo / "state.yaml").write_text("status: reviewing\n")
    git.merge(repo, "task/T9", "main", message="Merge T9")
    assert (repo / "feature.py").read_text() == "x = 1\n"
    assert (repo / "state.yaml").read_text() == "status: reviewing\n"


def test_uncommitted_lists_changes_and_discard_drops_them(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "T8", "main")
    (wt / "app.py").write_text("changed\n")
    (wt / "ci").mkdir()
    (wt / "ci" / "deploy.sh").write_text("curl evil\n")
    assert sorted(git.uncommitted(wt)) == ["app.py", "ci/deploy.sh"]
    git.discard(wt, ["app.py", "ci/deploy.sh"])
    assert git.uncommitted(wt) == []
    assert (wt / "app.py").read_text() == "a = 1\nb = 2\n"


def test_git_refuses_a_task_worktree_whose_gitfile_was_redirected(repo: Path) -> None:
    """An agent that rewrites `.git` could make the orchestrator's git run its config (fsmonitor)."""
    wt = git.ensure_worktree(repo, "T7", "main")
    (wt / ".evil").mkdir()
    marker = repo.parent / "pwned"
    (wt / ".evil" / "config").write_text(f"[core]\n\tfsmonitor = touch {marker}\n")
    (wt / ".git").write_text("gitdir: .evil\n")
    with pytest.raises(GitError, match="was changed"):
        git.commit_all(wt, "round 1")
    assert not marker.exists()
