"""Real repositories in ``sandbox.git``: the default branch, a task branch checked out elsewhere,
a fix on every git failure, merges that would overwrite files, and the user's commit signing."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from helpers import plain_git

from orchestrator.sandbox import git
from orchestrator.sandbox.git import GitError, MergeBlocked


def make_repo(path: Path, branch: str = "main") -> Path:
    path.mkdir(parents=True)
    plain_git(path, "init", "-q", "-b", branch)
    (path / "app.py").write_text("x = 1\n")
    plain_git(path, "add", "-A")
    plain_git(path, "commit", "-q", "-m", "base")
    return path


def commit(path: Path, rel: str, text: str, message: str = "change") -> str:
    (path / rel).write_text(text)
    plain_git(path, "add", "-A")
    plain_git(path, "commit", "-q", "-m", message)
    return plain_git(path, "rev-parse", "HEAD").strip()


# ---- the default branch ----


@pytest.mark.parametrize("branch", ["master", "trunk", "main"])
def test_the_default_branch_is_the_one_checked_out(tmp_path: Path, branch: str) -> None:
    assert git.default_branch(make_repo(tmp_path / "repo", branch)) == branch


def test_a_new_repository_without_commits_names_its_unborn_branch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    plain_git(repo, "init", "-q", "-b", "trunk")
    assert git.default_branch(repo) == "trunk"


def test_a_task_branch_checked_out_is_never_the_default(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "master")
    plain_git(repo, "switch", "-q", "-c", "task/TASK_DEV_0001")
    assert git.default_branch(repo) == "master"  # main/master that exists


def test_init_default_branch_comes_before_main_and_master(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "master")
    plain_git(repo, "branch", "trunk")
    plain_git(repo, "config", "init.defaultBranch", "trunk")
    plain_git(repo, "switch", "-q", "--detach")
    assert git.default_branch(repo) == "trunk"


def test_origin_head_names_the_default(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "develop")
    plain_git(repo, "update-ref", "refs/remotes/origin/develop", "HEAD")
    plain_git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop")
    plain_git(repo, "switch", "-q", "--detach")
    assert git.default_branch(repo) == "develop"


def test_no_default_branch_is_an_error_with_a_fix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "develop")
    plain_git(repo, "switch", "-q", "--detach")
    with pytest.raises(GitError, match="cannot tell the default branch") as err:
        git.default_branch(repo)
    assert err.value.fix and "--target-branch" in err.value.fix


# ---- a task branch checked out elsewhere ----


def test_a_branch_checked_out_in_another_worktree_is_reviewed_from_a_detached_copy(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "master")
    builder = tmp_path / "builder"
    plain_git(repo, "worktree", "add", "-q", "-b", "task/T1", str(builder), "master")
    first = commit(builder, "app.py", "x = 2\n")
    (builder / "scratch.py").write_text("uncommitted\n")  # the builder's own work in progress

    wt = git.ensure_worktree(repo, "T1", "master")
    assert wt == git.worktree_path(repo, "T1")
    assert git.head(wt) == first and (wt / "app.py").read_text() == "x = 2\n"
    assert not (wt / "scratch.py").exists()  # the review sees the commit, not the builder's checkout
    assert git.run(wt, "symbolic-ref", "-q", "HEAD", check=False).returncode == 1  # detached
    assert git.checkout_of(repo, "task/T1") == builder

    second = commit(builder, "app.py", "x = 3\n", "revise")
    (wt / "app.py").write_text("left by a check\n")
    assert git.ensure_worktree(repo, "T1", "master") == wt  # each call follows the branch head
    assert git.head(wt) == second and (wt / "app.py").read_text() == "x = 3\n"
    assert git.head(builder) == second  # the builder's checkout is untouched
    assert (builder / "scratch.py").read_text() == "uncommitted\n"


def test_a_branch_checked_out_in_the_main_checkout_is_reviewed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "master")
    plain_git(repo, "switch", "-q", "-c", "task/T1")
    sha = commit(repo, "app.py", "x = 2\n")
    wt = git.ensure_worktree(repo, "T1", "master")
    assert git.head(wt) == sha
    assert git.diff(repo, "master", "task/T1").count("+x = 2") == 1


def test_the_copy_goes_back_onto_the_branch_once_the_branch_is_free(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "master")
    plain_git(repo, "switch", "-q", "-c", "task/T1")
    sha = commit(repo, "app.py", "x = 2\n")
    wt = git.ensure_worktree(repo, "T1", "master")
    plain_git(repo, "switch", "-q", "master")
    git.ensure_worktree(repo, "T1", "master")
    assert plain_git(wt, "symbolic-ref", "--short", "HEAD").strip() == "task/T1"
    assert git.head(wt) == sha


def test_a_worktree_switched_to_another_branch_by_hand_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = git.ensure_worktree(repo, "T1", "main")
    plain_git(wt, "switch", "-q", "-c", "other")
    with pytest.raises(GitError, match="is not on branch task/T1") as err:
        git.ensure_worktree(repo, "T1", "main")
    assert err.value.fix and "git worktree remove" in err.value.fix


# ---- every git failure carries a fix ----


def test_an_unknown_base_branch_names_git_and_the_fix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "master")
    with pytest.raises(GitError) as err:
        git.ensure_worktree(repo, "T1", "main")
    assert "`git worktree add` failed" in err.value.message and "main" in err.value.message
    assert err.value.fix == "check that the branch exists (`git branch --list`), or name an existing one"
    assert "\n  fix: check that the branch exists" in err.value.render()


def test_a_git_failure_nobody_foresaw_still_gets_a_fix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(GitError) as err:
        git.run(repo, "frobnicate")
    assert (
        err.value.fix
        == f"run `git frobnicate` in {repo} yourself to see what git needs, fix that, then try again"
    )


def test_an_already_checked_out_branch_names_the_way_out(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    plain_git(repo, "branch", "other")
    plain_git(repo, "worktree", "add", "-q", str(tmp_path / "a"), "other")
    with pytest.raises(GitError) as err:
        git.run(repo, "worktree", "add", "-q", str(tmp_path / "b"), "other")
    assert err.value.fix and "`git worktree list`" in err.value.fix


def test_a_git_error_made_without_a_fix_gets_the_generic_one() -> None:
    assert GitError("something").fix and "git status" in GitError("something").render()


def test_unknown_revision_has_a_fix(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="unknown revision 'nope'") as err:
        git.head(make_repo(tmp_path / "repo"), "nope")
    assert err.value.fix and "git branch --list" in err.value.fix


# ---- merging: files in the way ----


def test_merge_refuses_an_untracked_file_where_the_change_adds_one(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = git.ensure_worktree(repo, "T1", "main")
    commit(wt, "state.yaml", "from the change\n")
    (repo / "state.yaml").write_text("live\n")
    before = git.head(repo, "main")
    with pytest.raises(MergeBlocked, match="untracked files where the merge adds files: state.yaml") as err:
        git.merge(repo, "task/T1", "main", message="Merge T1")
    assert err.value.paths == ["state.yaml"] and err.value.checkout == repo
    assert err.value.fix == "move or remove those files, then approve again"
    assert git.head(repo, "main") == before and (repo / "state.yaml").read_text() == "live\n"
    assert not git.is_merged(repo, "task/T1", "main")


def test_merge_refuses_an_ignored_file_where_the_change_adds_one(tmp_path: Path) -> None:
    """git itself would overwrite an ignored file silently: a live lock or checkpoint file, say."""
    repo = make_repo(tmp_path / "repo")
    commit(repo, ".gitignore", "/local.db\n")
    wt = git.ensure_worktree(repo, "T1", "main")
    (wt / "local.db").write_text("from the change\n")
    plain_git(wt, "add", "-f", "local.db")
    plain_git(wt, "commit", "-q", "-m", "add it anyway")
    (repo / "local.db").write_text("live\n")
    with pytest.raises(MergeBlocked):
        git.merge(repo, "task/T1", "main", message="Merge T1")
    assert (repo / "local.db").read_text() == "live\n"


def test_is_merged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = git.ensure_worktree(repo, "T1", "main")
    commit(wt, "b.py", "b = 1\n")
    assert not git.is_merged(repo, "task/T1", "main")
    git.merge(repo, "task/T1", "main", message="Merge T1")
    assert git.is_merged(repo, "task/T1", "main")


# ---- merging: the user's signing configuration ----


FAKE_GPG = """#!/bin/sh
# Stands in for gpg: records that git asked for a signature, and gives one.
echo "$@" >> "{calls}"
cat > /dev/null
echo "[GNUPG:] SIG_CREATED D 1 8 00 0 0 0 FAKE" >&2
printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'
"""


def signing_repo(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo")
    calls = tmp_path / "gpg-calls"
    gpg = tmp_path / "fake-gpg"
    gpg.write_text(FAKE_GPG.format(calls=calls))
    gpg.chmod(gpg.stat().st_mode | stat.S_IEXEC)
    plain_git(repo, "config", "commit.gpgsign", "true")
    plain_git(repo, "config", "user.signingkey", "FAKEKEY")
    plain_git(repo, "config", "gpg.program", str(gpg))
    return repo, calls


def _raw_commit(repo: Path, sha: str) -> str:
    return subprocess.run(
        ["git", "cat-file", "commit", sha], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("target_checked_out", [True, False])
def test_the_merge_is_signed_as_the_user_configured_and_round_commits_are_not(
    tmp_path: Path, target_checked_out: bool
) -> None:
    repo, calls = signing_repo(tmp_path)
    wt = git.ensure_worktree(repo, "T1", "main")
    (wt / "b.py").write_text("b = 1\n")
    round_commit = git.commit_all(wt, "T1 round 1")  # the agent's round: never signed
    assert round_commit and "gpgsig" not in _raw_commit(repo, round_commit)
    assert not calls.exists()
    if not target_checked_out:  # the plumbing path (commit-tree) honours it too
        plain_git(repo, "switch", "-q", "--detach")
    sha = git.merge(repo, "task/T1", "main", message="Merge T1\n\nApproved-by: alice\n")
    assert "gpgsig -----BEGIN PGP SIGNATURE-----" in _raw_commit(repo, sha)
    assert "FAKEKEY" in calls.read_text()


def test_a_failing_signature_refuses_the_merge_with_a_fix(tmp_path: Path) -> None:
    repo, _ = signing_repo(tmp_path)
    plain_git(repo, "config", "gpg.program", "false")
    wt = git.ensure_worktree(repo, "T1", "main")
    (wt / "b.py").write_text("b = 1\n")
    git.commit_all(wt, "T1 round 1")
    before = git.head(repo, "main")
    with pytest.raises(GitError) as err:
        git.merge(repo, "task/T1", "main", message="Merge T1")
    assert err.value.fix and "commit.gpgsign false" in err.value.fix
    assert git.head(repo, "main") == before
    assert not (repo / ".git" / "MERGE_HEAD").exists()
