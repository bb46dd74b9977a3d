from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import commit_gitlink, fired, poison_nested_repo

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


def test_toplevel_of_a_repository_inside_another_is_its_own(repo: Path) -> None:
    inner = repo / "vendor" / "lib"
    inner.mkdir(parents=True)
    run(inner, "init", "-q")
    assert git.toplevel(inner) == inner
    assert (
        git.toplevel(git.ensure_worktree(repo, "TASK_1", "main")) == repo / ".aios" / "worktrees" / "TASK_1"
    )


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


def test_a_whole_commit_id_must_name_a_commit(repo: Path) -> None:
    sha = run(repo, "rev-parse", "HEAD")
    tree = run(repo, "rev-parse", "HEAD^{tree}")
    missing = "0" * 40
    assert git.head(repo, sha) == sha == git.head(repo, sha)  # the second answer is remembered
    for not_a_commit in (tree, missing):
        for _ in range(2):  # a refusal is not remembered as an answer
            with pytest.raises(GitError, match="unknown revision"):
                git.head(repo, not_a_commit)


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


# --- untrusted content in a worktree runs nothing on the host (issue 9) ---------------------------


@pytest.mark.parametrize(
    ("process", "ran"), [(False, ["clean", "fsmonitor"]), (True, ["fsmonitor", "process"])]
)
def test_plain_git_runs_the_nested_repositorys_commands(
    repo: Path, tmp_path: Path, process: bool, ran: list[str]
) -> None:
    """The attack is real: without the hardening, `git status` runs the nested repository's config."""
    wt = git.ensure_worktree(repo, "T20", "main")
    poison_nested_repo(wt, tmp_path / "markers", process=process)
    commit_gitlink(wt)
    run(wt, "status", "--porcelain")
    assert fired(tmp_path / "markers") == ran


@pytest.mark.parametrize("process", [False, True])
def test_commit_all_refuses_a_nested_repository_and_runs_none_of_its_config(
    repo: Path, tmp_path: Path, process: bool
) -> None:
    wt = git.ensure_worktree(repo, "T21", "main")
    poison_nested_repo(wt, tmp_path / "markers", process=process)
    before = git.head(wt)
    with pytest.raises(git.NestedRepository) as err:
        git.commit_all(wt, "round 1")
    assert err.value.paths == ["src/vendor/.git"]
    assert "nested git repository (src/vendor/.git)" in err.value.message
    assert git.head(wt) == before and "160000" not in run(wt, "ls-files", "-s")
    assert "src/vendor/" in git.uncommitted(wt)  # untracked, shown as its folder
    assert git.diff(wt, "main", "HEAD") == "" and git.changed_files(wt, "main", "HEAD") == []
    git.remove_nested_git(wt, err.value.paths)
    sha = git.commit_all(wt, "round 1")
    assert sha is not None
    assert "src/vendor/lib.py" in git.changed_files(wt, "main", "HEAD")
    assert "160000" not in run(wt, "ls-files", "-s") and not (wt / "src" / "vendor" / ".git").exists()
    assert fired(tmp_path / "markers") == []


@pytest.mark.parametrize("process", [False, True])
def test_a_gitlink_on_the_branch_runs_nothing_in_any_git_call(
    repo: Path, tmp_path: Path, process: bool
) -> None:
    """A branch already holding the nested repository as a gitlink (an external builder committed it)."""
    wt = git.ensure_worktree(repo, "T22", "main")
    nested = poison_nested_repo(wt, tmp_path / "markers", process=process)
    commit_gitlink(wt)
    (nested / "lib.py").write_text("x = 3\n")  # dirty again: any look inside runs the clean filter
    assert git.uncommitted(wt) == []  # never asks the nested repository
    assert "+Subproject commit " in git.diff(wt, "main", "HEAD")  # shown, as one line
    assert git.changed_files(wt, "main", "HEAD") == [".gitattributes", ".gitmodules", "src/vendor"]
    git.discard(wt, ["src/vendor", ".gitattributes"])
    with pytest.raises(git.NestedRepository):
        git.commit_all(wt, "round 2")
    git.merge(repo, "task/T22", "main", message="Merge T22")  # main is checked out: a real `git merge`
    assert run(repo, "ls-files", "-s", "src/vendor").startswith("160000")
    assert fired(tmp_path / "markers") == []


@pytest.mark.parametrize("process", [False, True])
def test_review_diff_helpers_run_nothing_either(repo: Path, tmp_path: Path, process: bool) -> None:
    from orchestrator.review.diff import commit_messages, git_diff, merge_base

    wt = git.ensure_worktree(repo, "T23", "main")
    poison_nested_repo(wt, tmp_path / "markers", process=process)
    commit_gitlink(wt)
    base = merge_base(wt, "main")
    diff = git_diff(wt, base, git.head(wt))
    assert diff.get("src/vendor") is not None and diff.get("src/vendor").gitlink  # type: ignore[union-attr]
    assert "src/vendor" not in [f.path for f in diff.present()]
    assert commit_messages(wt, base) == ["vendor it"]
    assert fired(tmp_path / "markers") == []


def test_inherited_git_variables_cannot_add_config(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_CONFIG_COUNT (set by a wrapper or an enclosing git) would define the filter the attributes name."""
    marker = tmp_path / "env-filter"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "filter.pwn.clean")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", f"touch {marker}; cat")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", f"touch {marker}")
    wt = git.ensure_worktree(repo, "T24", "main")
    (wt / ".gitattributes").write_text("* filter=pwn\n")
    (wt / "new.py").write_text("y = 1\n")
    git.commit_all(wt, "round 1")
    git.diff(wt, "main", "HEAD")
    assert not marker.exists()


def test_nested_git_finds_every_kind_of_dot_git_outside_ignored_folders(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "T25", "main")
    (wt / ".gitignore").write_text("build/\n")
    for folder in ("a/.git", "b/.GIT", "build/clone/.git"):
        (wt / folder).mkdir(parents=True)
    (wt / "c").mkdir()
    (wt / "c" / ".git").write_text("gitdir: /elsewhere\n")
    (wt / "d").mkdir()
    (wt / "d" / ".git").symlink_to(repo / ".git")
    (wt / "e").symlink_to(wt / "a")  # a symlinked folder is not followed (a/.git is reported once)
    assert git.nested_git(wt) == ["a/.git", "b/.GIT", "c/.git", "d/.git"]
    assert git.nested_git(repo) == []  # the main checkout: its own .git and the ignored .aios/
    git.remove_nested_git(wt, git.nested_git(wt))
    assert git.nested_git(wt) == [] and (repo / ".git").is_dir() and (wt / "a").is_dir()


def test_remove_nested_git_removes_nothing_else(repo: Path, tmp_path: Path) -> None:
    wt = git.ensure_worktree(repo, "T26", "main")
    (wt / "app.py").write_text("keep\n")
    for rel in ("app.py", "../../../../outside/.git", "link/.git"):
        with pytest.raises(GitError, match="refusing to remove"):
            (wt / "link").unlink(missing_ok=True)
            (wt / "link").symlink_to(tmp_path)
            (tmp_path / ".git").mkdir(exist_ok=True)
            git.remove_nested_git(wt, [rel])
    assert (wt / "app.py").read_text() == "keep\n" and (tmp_path / ".git").is_dir()


def test_discard_removes_an_untracked_nested_repository(repo: Path) -> None:
    wt = git.ensure_worktree(repo, "T27", "main")
    (wt / "vendor").mkdir()
    run(wt / "vendor", "init", "-q")
    assert git.uncommitted(wt) == ["vendor/"]
    git.discard(wt, ["vendor/"])
    assert not (wt / "vendor").exists() and git.uncommitted(wt) == []


def test_the_users_own_config_cannot_turn_recursion_back_on(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Global config asking git to recurse into submodules is overridden for every host call."""
    config = tmp_path / "gitconfig"
    config.write_text(
        "[submodule]\n\trecurse = true\n\tactive = .\n[diff]\n\tsubmodule = diff\n\tignoreSubmodules = none\n"
        "[status]\n\tsubmoduleSummary = true\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    wt = git.ensure_worktree(repo, "T28", "main")
    nested = poison_nested_repo(wt, tmp_path / "markers")
    (wt / ".gitmodules").write_text('[submodule "v"]\n\tpath = src/vendor\n\turl = ./v\n')
    commit_gitlink(wt)
    run(nested, "-c", "core.fsmonitor=false", "-c", "filter.pwn.clean=cat", "commit", "-q", "-am", "on")
    (nested / "lib.py").write_text("x = 4\n")  # the gitlink is stale and the nested repository dirty
    git.uncommitted(wt)
    assert "+Subproject commit " in git.diff(wt, "main", "HEAD")
    git.discard(wt, ["src/vendor"])
    git.merge(repo, "task/T28", "main", message="Merge T28")
    assert fired(tmp_path / "markers") == []
