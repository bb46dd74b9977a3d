"""Git for the workflow: task worktrees, commits, diffs and the merge, with plain ``git``.

Each task gets a branch ``task/<TASK_ID>`` in a worktree at ``<repo>/.aios/worktrees/<TASK_ID>``.
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

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.errors import AiosError

__all__ = [
    "GitError",
    "MergeConflict",
    "NestedRepository",
    "branch_name",
    "changed_files",
    "commit_all",
    "diff",
    "ensure_worktree",
    "head",
    "merge",
    "nested_git",
    "refuse_nested_git",
    "remove_nested_git",
    "remove_worktree",
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
    """A git operation failed or the repository is not in the state it needs."""


class MergeConflict(GitError):
    """The task branch conflicts with the target branch; nothing was changed."""


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
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise GitError(f"`git {_command(args)}` failed: {detail}", file=cwd)
    return done


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
        raise GitError(f"not a directory: {path}")
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
    """The task's worktree on branch ``task/<TASK_ID>``, created from ``base`` if needed.

    Idempotent: an existing worktree on the right branch is returned as it is, and an existing
    branch (its worktree removed) is checked out again rather than recreated from ``base``.

    Raises:
        GitError: not a repository, ``base`` unknown, or the path holds something else.
    """
    root = toplevel(repo)
    path, branch = worktree_path(root, task_id), branch_name(task_id)
    if (path / ".git").is_file():
        _check_worktree_branch(path, branch)
        return path
    _exclude_aios(root)
    _git(root, "worktree", "prune")  # forget a worktree whose directory was deleted by hand
    if _ref_exists(root, f"refs/heads/{branch}"):
        _git(root, "worktree", "add", "-q", str(path), branch)
    else:
        _git(root, "worktree", "add", "-q", "-b", branch, str(path), f"{base}^{{commit}}")
    return path


def _check_worktree_branch(path: Path, branch: str) -> None:
    done = _git(path, "symbolic-ref", "-q", "HEAD", check=False)
    if done.stdout.strip() != f"refs/heads/{branch}":
        raise GitError(
            f"worktree {path} is not on branch {branch}",
            fix=f"check out {branch} there, or remove the worktree (`git worktree remove {path}`)",
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
    done = _git(repo, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        raise GitError(f"unknown revision {ref!r}", file=repo)
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

    Returns:
        The sha of the merge commit.

    Raises:
        MergeConflict: the branches conflict; nothing was changed.
        GitError: unknown branches, or the worktree holding ``target`` has uncommitted changes.
    """
    root = toplevel(repo)
    branch_sha, target_sha = head(root, f"refs/heads/{branch}"), head(root, f"refs/heads/{target}")
    if _is_ancestor(root, branch_sha, target_sha):
        return _existing_merge(root, branch_sha, target_sha)
    tree = _merged_tree(root, branch, target)
    checked_out = _checkout_of(root, target)
    if checked_out is not None:
        return _merge_in_worktree(
            checked_out, branch, message, author, touched=_changed(root, target_sha, tree)
        )
    return _merge_plumbing(root, tree, (target_sha, branch_sha), target, message, author)


def _is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    return _git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0


def _existing_merge(repo: Path, branch_sha: str, target_sha: str) -> str:
    """The first-parent merge on the target that brought ``branch_sha`` in, or the target head."""
    lines = _out(repo, "rev-list", "--first-parent", "--merges", "--parents", "--ancestry-path",
                 f"{branch_sha}..{target_sha}").splitlines()  # fmt: skip
    merges = [line.split() for line in lines if branch_sha in line.split()[2:]]
    return merges[-1][0] if merges else target_sha


def _merged_tree(repo: Path, branch: str, target: str) -> str:
    """The merged tree, computed in memory; a conflict raises before anything is touched."""
    done = _git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages",
                f"refs/heads/{target}", f"refs/heads/{branch}", check=False)  # fmt: skip
    lines = done.stdout.splitlines()
    if done.returncode == 1:
        files = ", ".join(dict.fromkeys(lines[1:])) or "(unknown files)"
        raise MergeConflict(
            f"{branch} conflicts with {target} in: {files}",
            file=repo,
            fix=f"rebase {branch} onto {target} and resolve the conflicts, then submit it again",
        )
    if done.returncode != 0 or not lines:
        raise GitError(f"`git merge-tree` failed: {done.stderr.strip()}", file=repo)
    return lines[0]


def _checkout_of(repo: Path, branch: str) -> Path | None:
    """The worktree (main or linked) that has ``branch`` checked out, if any."""
    current: Path | None = None
    for line in _out(repo, "worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{branch}":
            return current
    return None


def _changed(repo: Path, commit: str, tree: str) -> set[str]:
    return set(_out(repo, "diff", "--name-only", commit, tree).splitlines())


def _merge_in_worktree(worktree: Path, branch: str, message: str, author: str, *, touched: set[str]) -> str:
    # Uncommitted edits elsewhere (aios's own state files, say) are left alone, as git itself does;
    # edits to a file the merge changes would be overwritten, so those refuse the merge.
    dirty = {
        *_out(worktree, "diff", "--name-only", *_WORKTREE_DIFF).splitlines(),
        *_out(worktree, "diff", "--name-only", "--cached", *_WORKTREE_DIFF).splitlines(),
    }
    if clash := sorted(dirty & touched):
        raise GitError(
            f"{worktree} has uncommitted changes to files the merge changes: {', '.join(clash)}",
            file=worktree,
            fix="commit or stash those changes, then approve again",
        )
    done = _git(worktree, "-c", "commit.gpgsign=false", "merge", "-q", "--no-ff", "--no-verify",
                "--no-edit", "-m", message, f"refs/heads/{branch}", env=_identity(author),
                check=False)  # fmt: skip
    if done.returncode != 0:
        _git(worktree, "merge", "--abort", check=False)
        raise GitError(f"`git merge` failed: {(done.stderr or done.stdout).strip()}", file=worktree)
    return head(worktree)


def _merge_plumbing(
    repo: Path, tree: str, parents: tuple[str, str], target: str, message: str, author: str
) -> str:
    sha = _git(repo, "commit-tree", tree, "-p", parents[0], "-p", parents[1], "-m", message,
               env=_identity(author)).stdout.strip()  # fmt: skip
    # The old value makes this a compare-and-swap: a concurrent move of the target fails here.
    _git(repo, "update-ref", "-m", f"aios: {message}", f"refs/heads/{target}", sha, parents[0])
    return sha
