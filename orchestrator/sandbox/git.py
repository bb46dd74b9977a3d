"""Git for the workflow: task worktrees, commits, diffs and the merge, with plain ``git``.

Each task gets a branch ``task/<TASK_ID>`` in a worktree at ``<repo>/.aios/worktrees/<TASK_ID>``
(a detached copy of the branch's head while a builder has the branch checked out elsewhere).
The orchestrator commits outside the sandbox (`commit_all`), works without any git user config,
and merges a task branch into its target exactly once (`merge`): a conflict is an error, never a
half-merged tree.

Every call goes through one hardened runner (`run`), because the worktrees hold files written by
untrusted code: git runs no hooks and no fsmonitor, never recurses into or updates a nested
repository (whose own config could name a filter, textconv or fsmonitor command), and inherits
no ``GIT_*`` variable that could point it elsewhere. A `.git` entry anywhere inside a worktree is
refused before anything is added (`NestedRepository`): committed, it would become a gitlink that
later ``git status`` and ``git add`` calls descend into. Config is read only from places the
sandbox cannot write (system, global, the main repository's ``.git``), so the user's own filter
drivers (git-lfs, say) keep working.

Example:
    >>> wt = ensure_worktree(repo, "TASK_DEV_0001", base="main")
    >>> commit_all(wt, "TASK_DEV_0001 round 1")
    >>> print(diff(wt, "main", "HEAD"))
    >>> merge(repo, "task/TASK_DEV_0001", "main", message="Merge TASK_DEV_0001")
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import AiosError

__all__ = [
    "GitError",
    "MergeBlocked",
    "MergeConflict",
    "NestedRepository",
    "branch_exists",
    "branch_name",
    "changed_files",
    "checkout_of",
    "commit_all",
    "default_branch",
    "diff",
    "ensure_worktree",
    "fast_forward",
    "fetch",
    "head",
    "is_merged",
    "merge",
    "merge_to_remote",
    "nested_git",
    "push",
    "ref_exists",
    "remote_ref",
    "refuse_nested_git",
    "remove_nested_git",
    "remove_worktree",
    "require_remote",
    "run",
    "toplevel",
    "worktree_path",
]

DEFAULT_AUTHOR = "aios <aios@localhost>"
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_AUTHOR = re.compile(r"\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>]+)>\s*")
#: The only inherited ``GIT_*`` variables: where the user's own config lives, who they are, where
#: git is installed. Others could point git at another repository (``GIT_DIR``, set inside hooks),
#: run a program (``GIT_EXTERNAL_DIFF``, ``GIT_SSH_COMMAND``) or add config (``GIT_CONFIG_PARAMETERS``).
_KEEP_ENV = frozenset(
    {
        "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_EXEC_PATH",
        "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE",
    }
)  # fmt: skip


class GitError(AiosError):
    """A git operation failed or the repository is not in the state it needs.

    Always carries a ``fix``: a caller that has no better one gets a generic line, so git's own
    words never reach the user alone.
    """

    def __init__(self, message: str, *, fix: str | None = None, **where: Any) -> None:
        super().__init__(message, fix=fix or _GENERIC_FIX, **where)


_GENERIC_FIX = "fix what git reports in the repository (`git status` shows its state), then try again"


class MergeConflict(GitError):
    """The task branch conflicts with the target branch; nothing was changed."""


class MergeBlocked(GitError):
    """Files in the checkout of the target branch would be overwritten; nothing was changed.

    Attributes:
        checkout: the worktree that has the target branch checked out.
        paths: the files the merge would overwrite, relative to ``checkout``.
    """

    def __init__(self, checkout: Path, paths: Sequence[str], *, untracked: bool) -> None:
        self.checkout, self.paths = checkout, list(paths)
        shown = ", ".join(self.paths[:20]) + (" ..." if len(self.paths) > 20 else "")
        if untracked:
            what, fix = "untracked files where the merge adds files", "move or remove those files"
        else:
            what, fix = "uncommitted changes to files the merge changes", "commit or stash those changes"
        super().__init__(f"{checkout} has {what}: {shown}", file=checkout, fix=f"{fix}, then approve again")


class NestedRepository(GitError):
    """The worktree holds a `.git` entry besides its own: a security finding, nothing was added.

    Attributes:
        paths: the `.git` entries, relative to the worktree.
    """

    def __init__(self, worktree: Path, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        shown = ", ".join(self.paths[:10]) + (" ..." if len(self.paths) > 10 else "")
        super().__init__(
            f"the worktree holds a nested git repository ({shown}): committed, git would later run "
            "that repository's config (filters, fsmonitor) on the host",
            file=worktree,
            fix="remove those .git entries (vendor the files themselves); code must never create one",
        )


# --- running git ----------------------------------------------------------------------------------


#: Agent-written code sits in these worktrees: git must run none of it. No hooks, no fsmonitor;
#: and no nested repository is ever updated, opened for its log or diff, or asked whether it is
#: dirty (git would read that repository's config, whose filters and fsmonitor then run here).
#: ``.gitmodules`` (worktree content) can override ``diff.ignoreSubmodules``, so commands that
#: compare with the working tree also pass ``--ignore-submodules=all`` (`_WORKTREE_DIFF`).
_SAFE_CONFIG = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "submodule.recurse=false",
    "-c", "diff.ignoreSubmodules=all",
    "-c", "diff.submodule=short",
    "-c", "status.submoduleSummary=false",
)  # fmt: skip
#: For status and diffs that look at the working tree.
_WORKTREE_DIFF = ("--ignore-submodules=all",)
#: For diffs between commits: no external diff, no textconv, and gitlinks shown (as one line).
_COMMIT_DIFF = ("--no-ext-diff", "--no-textconv", "--submodule=short", "--ignore-submodules=none")


def _check_task_gitfile(cwd: Path) -> None:
    """Refuse to run git in a task worktree whose `.git` file no longer points at its own repository."""
    gitfile = cwd / ".git"
    if cwd.parent.name != "worktrees" or cwd.parent.parent.name != ".aios" or not gitfile.is_file():
        return
    expected = (cwd.parent.parent.parent / ".git" / "worktrees" / cwd.name).resolve()
    text = gitfile.read_text(encoding="utf-8", errors="replace").strip()
    target = (cwd / text.removeprefix("gitdir:").strip()).resolve() if text.startswith("gitdir:") else None
    if target != expected:
        raise GitError(
            f"{gitfile} was changed: it no longer points at this repository's git data",
            file=gitfile,
            fix=f"restore it to `gitdir: {expected}` and review what changed in the worktree",
        )


def run(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run git in ``cwd`` the hardened way; every git call aios makes comes through here.

    Output is bytes (blobs, ``-z`` lists); `GitError` with git's own words when it fails and ``check``.

    Example:
        >>> run(worktree, "cat-file", "--batch", stdin=b"HEAD:app.py\n").stdout
    """
    _check_task_gitfile(Path(cwd))
    try:
        done = subprocess.run(
            ["git", *_SAFE_CONFIG, *args], cwd=cwd, env=_env(env), input=stdin, capture_output=True,
            check=False, stdin=None if stdin is not None else subprocess.DEVNULL,
        )  # fmt: skip
    except OSError as exc:  # git missing, or cwd gone
        raise GitError(f"cannot run git in {cwd}: {exc.strerror}", fix="install git") from exc
    if check and done.returncode != 0:
        raise _failed(cwd, args, (done.stderr or done.stdout).decode("utf-8", "replace").strip())
    return done


#: What a user does about git's common complaints: (a phrase of git's message, the fix).
_FIXES = (
    (("already checked out", "already used by worktree"),
     "switch that checkout to another branch, or remove the worktree (`git worktree list` shows where)"),
    (("not a valid object name", "invalid reference", "unknown revision", "bad revision",
      "ambiguous argument", "not a valid branch name"),
     "check that the branch exists (`git branch --list`), or name an existing one"),
    (("index.lock", ".lock': File exists"),
     "another git process is using the repository: wait for it, or remove the stale `.lock` file git names"),
    (("not a git repository",), "run aios inside a git repository (`git init` first)"),
    (("gpg failed", "failed to sign", "gpg.program", "signing failed"),
     "check your signing set-up (`user.signingkey`, `gpg.program`), or turn signing off for this "
     "repository: `git config commit.gpgsign false`"),
    (("Permission denied", "Read-only file system"), "make the repository writable for this user"),
    (("No space left",), "free some disk space, then try again"),
    (("would be overwritten",), "commit, move or remove the files git names, then try again"),
)  # fmt: skip


def _failed(cwd: Path, args: Sequence[str], detail: str) -> GitError:
    """The error for a failed git call: git's own words, and what to do about them."""
    command = _command(args)
    fix = next((f for phrases, f in _FIXES if any(p in detail for p in phrases)), None)
    fix = fix or f"run `git {command}` in {cwd} yourself to see what git needs, fix that, then try again"
    return GitError(f"`git {command}` failed: {detail or 'no message'}", file=cwd, fix=fix)


def _command(args: Sequence[str]) -> str:
    """The subcommand and its first argument, for messages (``-c key=value`` pairs left out)."""
    rest = list(args)
    while rest[:1] == ["-c"]:
        rest = rest[2:]
    return " ".join(rest[:2])


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP_ENV}
    return {**env, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(extra or {})}


def _git(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`run` with text output."""
    done = run(cwd, *args, env=env, check=check)
    out, err = (b.decode("utf-8", "replace") for b in (done.stdout, done.stderr))
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


def _out(cwd: Path, *args: str) -> str:
    return _git(cwd, *args).stdout.strip()


def _identity(author: str) -> dict[str, str]:
    """Author and committer as environment variables, so no git user config is needed."""
    found = _AUTHOR.fullmatch(author)
    if found is None:
        raise GitError(f"bad author {author!r}", fix="write it as `Name <email@example.com>`")
    name, email = found["name"], found["email"]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}  # fmt: skip


# --- repositories and worktrees -------------------------------------------------------------------


def toplevel(path: Path) -> Path:
    """The top directory of the working tree containing ``path``.

    Raises:
        GitError: ``path`` is not inside a git repository.
    """
    path = Path(path)
    if not path.is_dir():
        raise GitError(f"not a directory: {path}", fix="name a folder inside the git repository")
    if (path / ".git").exists():  # the top of a working tree (a task's worktree, the workspace)
        return path.resolve()  # as git prints it, without a process (a review asks a dozen times)
    done = _git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(
            f"{path} is not inside a git repository",
            fix=f"run `git init` in {path} first (aios keeps task branches and history in git)",
        )
    return Path(done.stdout.strip())


def branch_name(task_id: str) -> str:
    """The branch of a task: ``task/<TASK_ID>``.

    Raises:
        GitError: the task id is not a safe branch and directory name.
    """
    if not _TASK_ID.fullmatch(task_id) or ".." in task_id or task_id.endswith((".lock", ".")):
        raise GitError(f"bad task id {task_id!r}", fix="use letters, digits, '.', '_' and '-'")
    return f"task/{task_id}"


def worktree_path(repo: Path, task_id: str) -> Path:
    """Where a task's worktree lives: ``<repo>/.aios/worktrees/<TASK_ID>``."""
    branch_name(task_id)
    return Path(repo) / ".aios" / "worktrees" / task_id


def ensure_worktree(repo: Path, task_id: str, base: str) -> Path:
    """The task's worktree at ``task/<TASK_ID>``'s head, the branch created from ``base`` if needed.

    Idempotent: an existing worktree on the right branch is returned as it is, and an existing
    branch (its worktree removed) is checked out again rather than recreated from ``base``.

    A branch can be checked out in one place only. When an external builder has ``task/<ID>``
    checked out in their own worktree or in the main checkout, the task's worktree is a detached
    copy of the branch head instead, for review only (evidence runs on exactly the committed
    change, never in the builder's own checkout with its uncommitted edits); each call moves it to
    the branch's current head, and it goes back onto the branch once the branch is free again.

    Raises:
        GitError: not a repository, ``base`` unknown, or the path holds something else.
    """
    root = toplevel(repo)
    path, branch = worktree_path(root, task_id), branch_name(task_id)
    if (path / ".git").is_file():
        _follow_branch(root, path, branch)
        return path
    _exclude_aios(root)
    _git(root, "worktree", "prune")  # forget a worktree whose directory was deleted by hand
    if not _ref_exists(root, f"refs/heads/{branch}"):
        _git(root, "worktree", "add", "-q", "-b", branch, str(path), f"{base}^{{commit}}")
    elif checkout_of(root, branch) is not None:
        _git(root, "worktree", "add", "-q", "--detach", str(path), f"refs/heads/{branch}")
    else:
        _git(root, "worktree", "add", "-q", str(path), branch)
    return path


def _follow_branch(root: Path, path: Path, branch: str) -> None:
    """Keep the task's worktree on ``branch``, or a detached copy of its head while it is elsewhere."""
    on = _git(path, "symbolic-ref", "-q", "HEAD", check=False).stdout.strip()
    if on == f"refs/heads/{branch}":
        return
    if on:  # on some other branch: someone switched it by hand
        raise GitError(
            f"worktree {path} is not on branch {branch}",
            fix=f"check out {branch} there, or remove the worktree (`git worktree remove {path}`)",
        )
    elsewhere = checkout_of(root, branch)
    if elsewhere is None:  # the builder's checkout let go of the branch: back onto it
        _git(path, "checkout", "-q", branch)
    elif head(path) != head(root, f"refs/heads/{branch}"):
        # A review-only copy: whatever a check left in it is dropped (-f), the commit is what counts.
        _git(path, "checkout", "-q", "-f", "--detach", f"refs/heads/{branch}")


def default_branch(repo: Path) -> str:
    """The repository's default branch: where tasks merge unless their card names a target.

    The branch checked out in ``repo`` (``master``, ``trunk``, ...), else ``init.defaultBranch``,
    ``origin/HEAD``, then ``main`` or ``master``, the first that exists. A task branch checked out
    there (an external builder at work) is skipped: it is never a target.

    Raises:
        GitError: none of these names a branch (a detached checkout with no main or master).
    """
    root = toplevel(repo)
    current = _git(root, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    if current and not current.startswith("task/"):
        return current  # may have no commit yet (a new repository): the run says so, with a fix
    configured = _git(root, "config", "--get", "init.defaultBranch", check=False).stdout.strip()
    origin = _git(root, "symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", check=False)
    for name in (configured, origin.stdout.strip().removeprefix("origin/"), "main", "master"):
        if name and _ref_exists(root, f"refs/heads/{name}"):
            return name
    raise GitError(
        f"cannot tell the default branch of {root}: HEAD is {current or 'detached'}",
        file=root,
        fix="check out the branch tasks merge into, or name it in the TaskCard (`target_branch:`, "
        "`aios task new --target-branch NAME`)",
    )


def _exclude_aios(root: Path) -> None:
    """Keep ``.aios/`` out of ``git status`` without touching the user's ``.gitignore``."""
    exclude = Path(root, _out(root, "rev-parse", "--git-common-dir"), "info", "exclude")
    text = exclude.read_text() if exclude.exists() else ""
    if ".aios/" not in text.splitlines():
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text(text + ("" if text.endswith("\n") or not text else "\n") + ".aios/\n")


def remove_worktree(repo: Path, task_id: str, *, delete_branch: bool = False) -> None:
    """Remove a task's worktree (with any uncommitted files in it), optionally its branch too.

    Idempotent: a missing worktree or branch is not an error.
    """
    root = toplevel(repo)
    path = worktree_path(root, task_id)
    if path.exists():
        _git(root, "worktree", "remove", "--force", str(path))
    _git(root, "worktree", "prune")
    if delete_branch and _ref_exists(root, f"refs/heads/{branch_name(task_id)}"):
        _git(root, "branch", "-q", "-D", branch_name(task_id))


def branch_exists(repo: Path, name: str) -> bool:
    """Whether branch ``name`` exists with a commit (an unborn branch in a new repository does not)."""
    return _ref_exists(toplevel(repo), f"refs/heads/{name}")


def ref_exists(repo: Path, ref: str) -> bool:
    """Whether the full ref ``ref`` (``refs/remotes/origin/main``) names a commit in ``repo``."""
    return _ref_exists(toplevel(repo), ref)


def _ref_exists(repo: Path, ref: str) -> bool:
    return _git(repo, "show-ref", "--verify", "-q", ref, check=False).returncode == 0


# --- commits and diffs ----------------------------------------------------------------------------


def commit_all(worktree: Path, message: str, *, author: str = DEFAULT_AUTHOR) -> str | None:
    """Commit every change in ``worktree`` (new, modified, deleted files); None if nothing changed.

    Hooks and signing are skipped: this is the orchestrator recording a round, and the review
    runs the project's checks itself.

    Returns:
        The new commit's sha, or None when the tree was clean.

    Raises:
        NestedRepository: a `.git` entry besides the worktree's own; nothing was added.
    """
    identity = _identity(author)
    refuse_nested_git(worktree)  # before `add`: it would record a gitlink and look inside the repository
    _git(worktree, "add", "-A")
    if _git(worktree, "diff", "--cached", "--quiet", *_COMMIT_DIFF, check=False).returncode == 0:
        return None
    _git(worktree, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message,
         env=identity)  # fmt: skip
    return head(worktree)


def nested_git(worktree: Path) -> list[str]:
    """Every `.git` entry (file, folder or symlink, any case) inside ``worktree`` besides its own.

    Folders git ignores are skipped: git never adds nor looks into them. Symlinked folders are
    not followed. Paths are relative to ``worktree``, sorted.

    Raises:
        GitError: a folder cannot be read (it could hide one).
    """
    root = Path(worktree)
    ignored = _ignored_dirs(root)
    found: list[str] = []
    for top, dirs, files in os.walk(root, onerror=_unreadable):
        rel = Path(top).relative_to(root)
        own = () if rel.parts else (".git",)  # the worktree's own gitfile (or the main repository's .git)
        found += [(rel / n).as_posix() for n in (*dirs, *files) if _is_dot_git(n) and n not in own]
        dirs[:] = [d for d in dirs if not _is_dot_git(d) and f"{(rel / d).as_posix()}/" not in ignored]
    return sorted(found)


def _is_dot_git(name: str) -> bool:
    return name.casefold() == ".git"


def _unreadable(exc: OSError) -> None:
    raise GitError(f"cannot read {exc.filename}: {exc.strerror}", fix="make it readable, or remove it")


def _ignored_dirs(root: Path) -> set[str]:
    out = _git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory").stdout
    return {p for p in out.split("\0") if p.endswith("/")}


def refuse_nested_git(worktree: Path) -> None:
    """Raise `NestedRepository` when `nested_git` finds anything in ``worktree``."""
    if found := nested_git(worktree):
        raise NestedRepository(Path(worktree), found)


def remove_nested_git(worktree: Path, paths: Sequence[str]) -> None:
    """Delete the `.git` entries `nested_git` reported (the files around them stay, as plain files)."""
    root = Path(worktree).resolve()
    for rel in paths:
        target = root / rel
        if not _is_dot_git(target.name) or target.parent.resolve() != target.parent:
            raise GitError(f"refusing to remove {target}: not a .git entry inside {root}")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


def uncommitted(worktree: Path) -> list[str]:
    """Paths with uncommitted changes in ``worktree``, untracked files included (one per file).

    A nested repository shows as its folder, with a trailing ``/``.
    """
    out = _git(worktree, "status", "--porcelain", "-z", "--untracked-files=all", *_WORKTREE_DIFF).stdout
    entries = [e for e in out.split("\0") if e]
    paths, skip = [], False
    for entry in entries:
        if skip:  # the source path of a rename
            skip = False
            continue
        paths.append(entry[3:])
        skip = entry[0] in "RC"
    return paths


def discard(worktree: Path, paths: Sequence[str]) -> None:
    """Drop uncommitted changes to ``paths``: tracked files go back to HEAD, untracked ones are removed."""
    if not paths:
        return
    tracked = set(_out(worktree, "ls-files", "-z", "--", *paths).split("\0")) - {""}
    if tracked:
        _git(worktree, "checkout", "HEAD", "--", *sorted(tracked))
    for rel in set(paths) - tracked:
        target = worktree / rel
        if target.is_dir() and not target.is_symlink():  # an untracked nested repository
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


def head(repo: Path, ref: str = "HEAD") -> str:
    """The commit sha ``ref`` points to in the repository or worktree at ``repo``.

    Raises:
        GitError: ``ref`` does not name a commit.
    """
    if _COMMIT_ID.fullmatch(ref):
        return _commit(Path(repo), ref)
    return _resolve(repo, ref)


#: A whole commit id (SHA-1 or SHA-256), as the graph's state holds a round's base and head.
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@functools.lru_cache(maxsize=256)
def _commit(repo: Path, sha: str) -> str:
    # A commit id found once names that commit for good: each check of a round asks again.
    return _resolve(repo, sha)


def _resolve(repo: Path, ref: str) -> str:
    done = _git(repo, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        raise GitError(
            f"unknown revision {ref!r}",
            file=repo,
            fix="check that the branch or commit exists (`git branch --list`, `git log`)",
        )
    return done.stdout.strip()


def diff(repo: Path, base_ref: str, head_ref: str, *, context: int = 3) -> str:
    """The unified diff of what ``head_ref`` changed since it forked from ``base_ref``.

    Uses ``base...head`` (from the merge base), so commits landing on the base meanwhile do not
    show up as the task's changes.
    """
    return _git(
        repo, "diff", "--no-color", *_COMMIT_DIFF, f"-U{context}", f"{base_ref}...{head_ref}", "--"
    ).stdout


def changed_files(repo: Path, base_ref: str, head_ref: str, *, deleted: bool = False) -> list[str]:
    """Paths changed by ``head_ref`` since it forked from ``base_ref``, as in `diff`.

    Args:
        deleted: include files the change deleted (left out by default: nothing to lint there).
    """
    args = ["diff", "--name-only", "-z", "--no-renames", *_COMMIT_DIFF, f"{base_ref}...{head_ref}"]
    if not deleted:
        args.insert(3, "--diff-filter=d")
    return [p for p in _git(repo, *args).stdout.split("\0") if p]


# --- merging once ---------------------------------------------------------------------------------


def merge(repo: Path, branch: str, target: str, *, message: str, author: str = DEFAULT_AUTHOR) -> str:
    """Merge ``branch`` into ``target`` with a merge commit, exactly once.

    If ``branch`` is already contained in ``target``, nothing happens and the existing merge
    commit (or, without one, ``target``'s head) is returned: approving twice merges once.
    Where ``target`` is checked out, a real ``git merge --no-ff`` updates that worktree;
    elsewhere the merge is written with plumbing and the ref moved with a compare-and-swap.

    This is the human-approved commit, so the user's own signing configuration applies
    (``commit.gpgsign``, ``user.signingkey``, ``gpg.program``), unlike `commit_all`'s round commits.
    Hooks stay off even here: a hook runs the project's scripts, which the change may have
    rewritten, on the host and outside the sandbox.

    Returns:
        The sha of the merge commit.

    Raises:
        MergeConflict: the branches conflict; nothing was changed.
        MergeBlocked: the checkout of ``target`` has uncommitted or untracked files the merge
            would overwrite; nothing was changed.
        GitError: unknown branches, or signing failed.
    """
    root = toplevel(repo)
    branch_sha, target_sha = head(root, f"refs/heads/{branch}"), head(root, f"refs/heads/{target}")
    if _is_ancestor(root, branch_sha, target_sha):
        return _existing_merge(root, branch_sha, target_sha)
    tree = _merged_tree(root, branch, target)
    checked_out = checkout_of(root, target)
    if checked_out is not None:
        _refuse_overwrite(checked_out, _changed(root, target_sha, tree))
        return _merge_in_worktree(checked_out, branch, message, author)
    return _merge_plumbing(root, tree, (target_sha, branch_sha), target, message, author)


def is_merged(repo: Path, branch: str, target: str) -> bool:
    """Whether ``branch``'s head is already contained in ``target`` (merged, or never diverged)."""
    root = toplevel(repo)
    return _is_ancestor(root, head(root, f"refs/heads/{branch}"), head(root, f"refs/heads/{target}"))


def _is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    return _git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0


def _existing_merge(repo: Path, branch_sha: str, target_sha: str) -> str:
    """The first-parent merge on the target that brought ``branch_sha`` in, or the target head."""
    lines = _out(repo, "rev-list", "--first-parent", "--merges", "--parents", "--ancestry-path",
                 f"{branch_sha}..{target_sha}").splitlines()  # fmt: skip
    merges = [line.split() for line in lines if branch_sha in line.split()[2:]]
    return merges[-1][0] if merges else target_sha


def _merged_tree(repo: Path, branch: str, target: str, *, target_ref: str | None = None) -> str:
    """The merged tree, computed in memory; a conflict raises before anything is touched.

    ``target_ref`` merges into that ref instead of the local ``target`` (a remote's copy of it).
    """
    done = _git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages",
                target_ref or f"refs/heads/{target}", f"refs/heads/{branch}", check=False)  # fmt: skip
    lines = done.stdout.splitlines()
    if done.returncode == 1:
        files = ", ".join(dict.fromkeys(lines[1:])) or "(unknown files)"
        raise MergeConflict(
            f"{branch} conflicts with {target} in: {files}",
            file=repo,
            fix=f"rebase {branch} onto {target} and resolve the conflicts, then submit it again",
        )
    if done.returncode != 0 or not lines:
        raise _failed(repo, ("merge-tree", "--write-tree"), done.stderr.strip())
    return lines[0]


def checkout_of(repo: Path, branch: str) -> Path | None:
    """The worktree (main or linked) that has ``branch`` checked out, if any."""
    current: Path | None = None
    for line in _out(repo, "worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{branch}":
            return current
    return None


def _changed(repo: Path, commit: str, tree: str) -> set[str]:
    return _names(_git(repo, "diff", "--name-only", "-z", "--no-renames", commit, tree).stdout)


def _names(nul_separated: str) -> set[str]:
    return {p for p in nul_separated.split("\0") if p}


def _refuse_overwrite(worktree: Path, touched: set[str]) -> None:
    """Refuse, before anything moves, a merge that would overwrite files in ``worktree``.

    Uncommitted edits elsewhere (aios's own state files, say) are left alone, as git itself does.
    Edits to a file the merge changes, and untracked or ignored files where the merge adds one
    (git would stop halfway, or overwrite an ignored file silently), refuse the merge.
    """
    dirty = _names(_git(worktree, "diff", "--name-only", "-z", *_WORKTREE_DIFF).stdout)
    dirty |= _names(_git(worktree, "diff", "--name-only", "-z", "--cached", *_WORKTREE_DIFF).stdout)
    literal = {"GIT_LITERAL_PATHSPECS": "1"}  # a file named `*.py` is that file, not a pattern
    listed = _git(worktree, "ls-files", "-z", "--", *sorted(touched), env=literal).stdout if touched else ""
    tracked = _names(listed)
    in_the_way = {p for p in touched - tracked if os.path.lexists(worktree / p)}
    if clash := sorted(dirty & touched):
        raise MergeBlocked(worktree, clash, untracked=False)
    if in_the_way:
        raise MergeBlocked(worktree, sorted(in_the_way), untracked=True)


def _merge_in_worktree(worktree: Path, branch: str, message: str, author: str) -> str:
    done = _git(worktree, "merge", "-q", "--no-ff", "--no-verify", "--no-edit", "-m", message,
                f"refs/heads/{branch}", env=_identity(author), check=False)  # fmt: skip
    if done.returncode != 0:
        _git(worktree, "merge", "--abort", check=False)
        raise _failed(worktree, ("merge", branch), (done.stderr or done.stdout).strip())
    return head(worktree)


def _merge_plumbing(
    repo: Path, tree: str, parents: tuple[str, str], target: str, message: str, author: str
) -> str:
    sha = _merge_commit(repo, tree, parents, message, author)
    # The old value makes this a compare-and-swap: a concurrent move of the target fails here.
    subject = message.splitlines()[0] if message else target
    _git(repo, "update-ref", "-m", f"aios: {subject}", f"refs/heads/{target}", sha, parents[0])
    return sha


def _merge_commit(repo: Path, tree: str, parents: tuple[str, str], message: str, author: str) -> str:
    """A merge commit of ``tree`` on ``parents``, written without moving any ref."""
    # Unlike `git merge`, commit-tree ignores commit.gpgsign: ask for the signature it asks for.
    sign = ["-S"] if _config_true(repo, "commit.gpgsign") else []
    return _git(repo, "commit-tree", *sign, tree, "-p", parents[0], "-p", parents[1], "-m", message,
                env=_identity(author)).stdout.strip()  # fmt: skip


def _config_true(repo: Path, key: str) -> bool:
    done = _git(repo, "config", "--type=bool", "--get", key, check=False)
    return done.returncode == 0 and done.stdout.strip() == "true"


# --- a shared remote ------------------------------------------------------------------------------
# Several clones (workers, approvers on their own machines) meet in one shared repository. Its
# branches are fetched into ``refs/remotes/<remote>/``; local branches only ever move forward to
# them; a merge is made on the remote's newest target and pushed, so a push never rewinds anyone.

_REMOTE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def remote_ref(remote: str, branch: str) -> str:
    """Where a fetch keeps ``remote``'s copy of ``branch``: ``refs/remotes/<remote>/<branch>``."""
    return f"refs/remotes/{remote}/{branch}"


def require_remote(repo: Path, remote: str) -> None:
    """Refuse a remote name the repository does not define.

    Raises:
        GitError: a bad name, or no such remote (``git remote -v`` lists them).
    """
    root = toplevel(repo)
    if not _REMOTE.fullmatch(remote) or ".." in remote:
        raise GitError(f"bad remote name {remote!r}", fix="name a remote of the repository (`git remote -v`)")
    if _git(root, "remote", "get-url", remote, check=False).returncode != 0:
        raise GitError(
            f"{root} has no remote named {remote!r}",
            file=root,
            fix=f"add it (`git remote add {remote} URL`), or name one of `git remote -v`",
        )


def fetch(repo: Path, remote: str) -> None:
    """Fetch every branch of ``remote`` into ``refs/remotes/<remote>/`` (tags and submodules left alone).

    Raises:
        GitError: the remote is unknown or cannot be reached.
    """
    require_remote(repo, remote)
    root = toplevel(repo)
    _git(root, "fetch", "-q", "--no-tags", "--no-recurse-submodules", "--prune", remote,
         f"+refs/heads/*:{remote_ref(remote, '*')}")  # fmt: skip


def fast_forward(repo: Path, branch: str, to: str) -> bool:
    """Move local ``branch`` forward to commit ``to`` (creating it when missing).

    A branch already at or ahead of ``to`` stays; where the branch is checked out, the checkout
    moves with it (``merge --ff-only``: files in the way stop it, nothing is overwritten).

    Returns:
        Whether the branch moved.

    Raises:
        GitError: the branch has commits ``to`` lacks and lacks some of ``to``'s (diverged).
    """
    root, ref = toplevel(repo), f"refs/heads/{branch}"
    if not _ref_exists(root, ref):
        _git(root, "update-ref", "-m", "aios: fetched", ref, to, "0" * 40)
        return True
    current = head(root, ref)
    if _is_ancestor(root, to, current):
        return False
    if not _is_ancestor(root, current, to):
        raise GitError(
            f"{branch} has diverged from the shared repository's copy ({current[:10]} here, {to[:10]} there)",
            file=root,
            fix=f"merge or rebase {branch} onto the shared copy and push it, then try again",
        )
    checkout = checkout_of(root, branch)
    if checkout is None:
        _git(root, "update-ref", "-m", "aios: fast-forward", ref, to, current)
    else:
        _git(checkout, "merge", "-q", "--ff-only", "--no-verify", to)
    return True


#: How ``git push --porcelain`` says the remote branch moved on (or another push holds its lock).
_MOVED_ON = ("non-fast-forward", "fetch first", "failed to lock", "cannot lock ref")


def push(repo: Path, remote: str, commit: str, branch: str) -> bool:
    """Push ``commit`` to ``branch`` on ``remote``, only as a fast-forward (never forced).

    Returns:
        True when pushed (or already there); False when the remote refused because its branch
        moved meanwhile: fetch, rebuild on its new head and push again.

    Raises:
        GitError: any other failure (unreachable, a hook on the server declined).
    """
    root = toplevel(repo)
    done = _git(
        root, "push", "--porcelain", "--no-verify", remote, f"{commit}:refs/heads/{branch}", check=False
    )
    if done.returncode == 0:
        return True
    refused = " ".join(line for line in done.stdout.splitlines() if line.startswith("!"))
    if any(why in refused for why in _MOVED_ON):
        return False
    raise _failed(root, ("push", remote), (done.stderr or done.stdout).strip())


def merge_to_remote(
    repo: Path,
    remote: str,
    branch: str,
    target: str,
    *,
    message: str,
    author: str = DEFAULT_AUTHOR,
    attempts: int = 5,
) -> str:
    """Merge ``branch`` into ``remote``'s ``target`` exactly once, and bring the local ``target`` along.

    The merge commit is made on the remote's newest ``target`` and pushed as a fast-forward; when
    another clone pushed first, it is made again on the new head, up to ``attempts`` times. A
    branch the remote's target already holds is not merged again (its merge is returned). The
    local ``target`` then fast-forwards to it where it can (a local branch with commits of its own
    is left as it is: the shared repository holds the merge).

    Raises:
        MergeConflict: the branch conflicts with the remote's target; nothing was pushed.
        GitError: the remote kept moving, or refused the push for another reason.
    """
    root = toplevel(repo)
    branch_sha = head(root, f"refs/heads/{branch}")
    for _ in range(attempts):
        fetch(root, remote)
        theirs = head(root, remote_ref(remote, target))
        if _is_ancestor(root, branch_sha, theirs):
            sha = _existing_merge(root, branch_sha, theirs)
            break
        tree = _merged_tree(root, branch, target, target_ref=remote_ref(remote, target))
        sha = _merge_commit(root, tree, (theirs, branch_sha), message, author)
        if push(root, remote, sha, target):
            _git(root, "update-ref", remote_ref(remote, target), sha)
            break
    else:
        raise GitError(
            f"{remote} refused the merge into {target} {attempts} times: other clones kept moving it",
            file=root,
            fix="approve again: the merge is made once more on the newest target",
        )
    _follow_remote(root, target, head(root, remote_ref(remote, target)))
    return sha


def _follow_remote(root: Path, branch: str, to: str) -> None:
    """Fast-forward the local ``branch`` when it can; a local branch that diverged is left alone."""
    # The shared repository holds the merge; this clone's own commits are its owner's business.
    with contextlib.suppress(GitError):
        fast_forward(root, branch, to)


# --- files shared beside the branches (review reports) ---------------------------------------------


def push_files(repo: Path, remote: str, ref: str, files: Mapping[str, bytes], *, message: str) -> None:
    """Push ``files`` (name -> content, one folder) to ``ref`` on ``remote`` as a commit of its own.

    The ref (``refs/aios/...``) is outside the branches, so no checkout or merge ever sees it; it is
    replaced whole, since it holds derived records whose newest copy is the whole truth.

    Raises:
        GitError: the remote is unknown or cannot be reached.
    """
    require_remote(repo, remote)
    root = toplevel(repo)
    entries = []
    for name in sorted(files):
        if "/" in name or name in (".", ".."):
            raise GitError(f"bad file name {name!r} for {ref}", fix="name files of one folder")
        blob = run(root, "hash-object", "-w", "--stdin", stdin=files[name]).stdout.decode().strip()
        entries.append(f"100644 blob {blob}\t{name}\n")
    tree = run(root, "mktree", stdin="".join(entries).encode()).stdout.decode().strip()
    commit = _git(root, "commit-tree", tree, "-m", message).stdout.strip()
    _git(root, "push", "-q", "--no-verify", remote, f"+{commit}:{ref}")


def fetch_files(repo: Path, remote: str, ref: str) -> dict[str, bytes]:
    """The files ``push_files`` pushed to ``ref`` on ``remote`` (empty when it pushed none).

    Raises:
        GitError: the remote is unknown or cannot be reached.
    """
    require_remote(repo, remote)
    root = toplevel(repo)
    if not _git(root, "ls-remote", remote, ref).stdout.strip():
        return {}
    _git(root, "fetch", "-q", "--no-tags", "--no-recurse-submodules", remote, f"+{ref}:{ref}")
    listing = run(root, "ls-tree", "-z", ref).stdout.decode("utf-8", "replace").split("\0")
    found = {}
    for line in filter(None, listing):
        meta, name = line.split("\t", 1)
        if meta.split()[1] == "blob":
            found[name] = run(root, "cat-file", "blob", meta.split()[2]).stdout
    return found
