"""``orchestrator.workflow.remote``: clones sharing one bare repository fetch, push and merge on it.

Each test makes a bare ``shared.git`` holding ``main``, and clones of it (``a``, ``b``) standing
for workers or approvers on different machines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CALC, calc_task, plain_git, write

from orchestrator.sandbox import git
from orchestrator.sandbox.git import GitError, MergeConflict
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import remote, runs
from orchestrator.workflow.options import RunOptions

TID = "TASK_DEV_0001"
BRANCH = git.branch_name(TID)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A bare repository whose main holds one commit."""
    bare = tmp_path / "shared.git"
    plain_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    plain_git(tmp_path, "clone", "-q", str(bare), str(seed))
    commit(seed, "app.py", "x = 1\n")
    plain_git(seed, "push", "-q", "origin", "HEAD:refs/heads/main")
    return bare


def clone(shared: Path, name: str) -> Workspace:
    path = shared.parent / name
    plain_git(shared.parent, "clone", "-q", "-b", "main", str(shared), str(path))
    plain_git(path, "config", "aios.remote", "origin")
    return Workspace(path)


def commit(path: Path, rel: str, text: str) -> str:
    (path / rel).write_text(text)
    plain_git(path, "add", "-A")
    plain_git(path, "commit", "-q", "-m", f"write {rel}")
    return plain_git(path, "rev-parse", "HEAD").strip()


def task_branch(ws: Workspace, rel: str, text: str, tid: str = TID) -> str:
    """A commit on the task's branch in its worktree; returns it."""
    worktree = git.ensure_worktree(ws.root, tid, "main")
    return commit(worktree, rel, text)


def shared_head(shared: Path, branch: str = "main") -> str:
    return plain_git(shared, "rev-parse", f"refs/heads/{branch}").strip()


def contains(shared: Path, commit_sha: str, branch: str = "main") -> bool:
    return plain_git(shared, "branch", "--contains", commit_sha, "--list", branch).strip() != ""


# ---- which remote ----


def test_a_clone_without_a_remote_setting_works_alone(shared: Path) -> None:
    ws = clone(shared, "a")
    plain_git(ws.root, "config", "--unset", "aios.remote")
    assert remote.configured(ws) is None
    assert remote.sync(ws, TID, "main") is False


def test_the_environment_names_the_remote_over_git_config(shared: Path, monkeypatch) -> None:
    ws = clone(shared, "a")
    monkeypatch.setenv("AIOS_GIT_REMOTE", "upstream")
    with pytest.raises(GitError) as caught:
        remote.configured(ws)
    assert caught.value.message == f"{ws.root} has no remote named 'upstream'"
    assert caught.value.fix == "add it (`git remote add upstream URL`), or name one of `git remote -v`"


# ---- fetching before a run ----


def test_sync_brings_the_target_and_the_task_branch_from_the_shared_repository(shared: Path) -> None:
    a, b = clone(shared, "a"), clone(shared, "b")
    newer = commit(a.root, "app.py", "x = 2\n")
    plain_git(a.root, "push", "-q", "origin", "main")
    worked = task_branch(a, "feature.py", "y = 1\n")
    assert remote.publish(a, TID) is None
    assert shared_head(shared, BRANCH) == worked
    assert remote.sync(b, TID, "main") is True
    assert git.head(b.root, "refs/heads/main") == newer
    assert (b.root / "app.py").read_text() == "x = 2\n"  # the checkout moved with its branch
    assert git.head(b.root, f"refs/heads/{BRANCH}") == worked


def test_sync_refuses_a_branch_that_diverged_from_its_shared_copy(shared: Path) -> None:
    a, b = clone(shared, "a"), clone(shared, "b")
    commit(a.root, "app.py", "x = 2\n")
    plain_git(a.root, "push", "-q", "origin", "main")
    commit(b.root, "other.py", "z = 1\n")  # b's own unpushed commit on main
    with pytest.raises(GitError) as caught:
        remote.sync(b, TID, "main")
    assert caught.value.message.startswith("main has diverged from the shared repository's copy")
    assert caught.value.fix == "merge or rebase main onto the shared copy and push it, then try again"


def test_a_task_branch_another_clone_moved_is_not_pushed_over(shared: Path) -> None:
    a, b = clone(shared, "a"), clone(shared, "b")
    task_branch(a, "feature.py", "y = 1\n")
    assert remote.publish(a, TID) is None
    task_branch(b, "feature.py", "y = 2\n")  # b started its own branch from main: it lacks a's commit
    refused = remote.publish(b, TID)
    assert refused is not None and refused.startswith(f"{BRANCH} was not pushed: origin's copy has commits")
    assert (shared.parent / "a" / ".aios" / "worktrees" / TID / "feature.py").read_text() == "y = 1\n"
    assert plain_git(shared, "show", f"{BRANCH}:feature.py") == "y = 1\n"


# ---- merging on the shared repository ----


def test_approving_merges_on_the_shared_target_once(shared: Path) -> None:
    a = clone(shared, "a")
    worked = task_branch(a, "feature.py", "y = 1\n")
    sha = remote.merge(a, BRANCH, "main", message=f"Merge {TID}")
    assert shared_head(shared) == sha == git.head(a.root, "refs/heads/main")
    assert contains(shared, worked)
    assert remote.merge(a, BRANCH, "main", message=f"Merge {TID}") == sha  # approving again: no new merge
    assert shared_head(shared) == sha


def test_a_push_another_clone_beat_is_merged_again_on_the_new_head(shared: Path, monkeypatch) -> None:
    a, b = clone(shared, "a"), clone(shared, "b")
    first = task_branch(a, "one.py", "1\n", tid="TASK_DEV_0001")
    second = task_branch(b, "two.py", "2\n", tid="TASK_DEV_0002")
    fetch = git.fetch
    raced: list[str] = []

    def fetch_then_lose_the_race(repo: Path, name: str) -> None:
        fetch(repo, name)
        if Path(repo) == b.root and not raced:  # right after b fetched, a pushes its merge
            raced.append(remote.merge(a, "task/TASK_DEV_0001", "main", message="Merge TASK_DEV_0001"))

    monkeypatch.setattr(git, "fetch", fetch_then_lose_the_race)
    sha = remote.merge(b, "task/TASK_DEV_0002", "main", message="Merge TASK_DEV_0002")
    assert raced and shared_head(shared) == sha
    assert contains(shared, first) and contains(shared, second)  # neither merge lost
    parents = plain_git(shared, "rev-list", "--parents", "-n1", sha).split()
    assert parents[1:] == [raced[0], second]  # made again on a's merge, never forced over it


def test_a_clone_that_keeps_losing_the_race_refuses_clearly(shared: Path, monkeypatch) -> None:
    b = clone(shared, "b")
    task_branch(b, "two.py", "2\n")
    monkeypatch.setattr(git, "push", lambda *args: False)  # someone else always pushed first
    with pytest.raises(GitError) as caught:
        remote.merge(b, BRANCH, "main", message="Merge")
    assert caught.value.message == "origin refused the merge into main 5 times: other clones kept moving it"
    assert caught.value.fix == "approve again: the merge is made once more on the newest target"


def test_a_conflict_with_the_shared_target_pushes_nothing(shared: Path) -> None:
    a, b = clone(shared, "a"), clone(shared, "b")
    commit(a.root, "app.py", "x = 'a'\n")
    plain_git(a.root, "push", "-q", "origin", "main")
    before = shared_head(shared)
    task_branch(b, "app.py", "x = 'b'\n")  # from b's older main: conflicts with a's change
    with pytest.raises(MergeConflict):
        remote.merge(b, BRANCH, "main", message="Merge")
    assert shared_head(shared) == before


# ---- through a review run and its approval ----


def test_a_review_run_publishes_its_branch_and_approving_pushes_the_merge(
    ws: Workspace, tmp_path: Path, monkeypatch
) -> None:
    write(ws.root, CALC)
    git.commit_all(ws.root, "calc")
    bare = tmp_path / "shared.git"
    plain_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    plain_git(ws.root, "remote", "add", "origin", str(bare))
    plain_git(ws.root, "push", "-q", "origin", "main")
    monkeypatch.setenv("AIOS_GIT_REMOTE", "origin")
    tid = calc_task(ws)
    worked = git.head(git.worktree_path(ws.root, tid))
    options = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=False)
    found = runs.run(ws, tid, options, actor="alice")
    assert (found.waiting_for, found.note) == ("human_review", None)
    assert shared_head(bare, git.branch_name(tid)) == worked  # an approver elsewhere sees what was reviewed
    other = clone(bare, "other")  # meanwhile, another clone lands a change on the shared main
    commit(other.root, "NOTES.md", "notes\n")
    plain_git(other.root, "push", "-q", "origin", "main")
    merged = runs.answer(ws, tid, "approve", actor="alice")
    assert merged.merged == shared_head(bare) == git.head(ws.root, "refs/heads/main")
    assert contains(bare, worked) and (ws.root / "NOTES.md").read_text() == "notes\n"
