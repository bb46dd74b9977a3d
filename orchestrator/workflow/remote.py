"""A shared repository: several clones (workers, approvers on their own machines) meet in one remote.

A clone names the remote it shares with ``AIOS_GIT_REMOTE=origin``, or once with
``git config aios.remote origin``; with neither, everything stays in the local repository (the
embedded default). With a remote:

* a review run first fetches it and fast-forwards the task's target and the task branch to it
  (``sync``), so it starts from what other clones pushed;
* after a run the task branch is pushed back (``publish``), and its review reports beside it on
  ``refs/aios/review-reports/<ID>`` (no branch), so an approver elsewhere sees what was
  reviewed and the merge gate finds the round that approved it;
* approving merges on the remote's newest target and pushes the merge (``merge``): a push
  another clone beat is made again on the new head, never forced, so no merge is ever lost.

Every git call goes through ``sandbox.git``'s hardened runner.
"""

from __future__ import annotations

import os

from orchestrator._files import atomic_write, make_dirs
from orchestrator.sandbox import git
from orchestrator.state.workspace import Workspace

#: The environment variable naming the shared remote (over the clone's ``aios.remote`` git config).
REMOTE_ENV = "AIOS_GIT_REMOTE"


def configured(ws: Workspace) -> str | None:
    """The remote this clone shares, checked to exist; None when it works alone.

    Raises:
        GitError: the named remote is not one of the repository's.
    """
    name = os.environ.get(REMOTE_ENV) or _git_config(ws)
    if not name:
        return None
    git.require_remote(ws.root, name)
    return name


def _git_config(ws: Workspace) -> str:
    done = git.run(ws.root, "config", "--get", "aios.remote", check=False)
    return done.stdout.decode("utf-8", "replace").strip()


def sync(ws: Workspace, tid: str, target: str) -> bool:
    """Fetch the shared remote and fast-forward ``target`` and the task branch to its copies.

    Returns:
        False when no remote is configured (nothing done).

    Raises:
        GitError: the remote cannot be fetched, or a local branch diverged from its shared copy.
    """
    remote = configured(ws)
    if remote is None:
        return False
    git.fetch(ws.root, remote)
    for branch in (target, git.branch_name(tid)):
        if git.ref_exists(ws.root, git.remote_ref(remote, branch)):
            git.fast_forward(ws.root, branch, git.head(ws.root, git.remote_ref(remote, branch)))
    _take_reports(ws, tid, git.fetch_files(ws.root, remote, _reports_ref(tid)))
    return True


def _reports_ref(tid: str) -> str:
    return f"refs/aios/review-reports/{tid}"  # the repository is the project's own: no workspace id needed


def _take_reports(ws: Workspace, tid: str, files: dict[str, bytes]) -> None:
    """Write the shared review reports this clone lacks: the merge gate and `review show` read them
    here, whichever clone ran the round. A report already here is the same round's: kept as it is."""
    folder = ws.reviews_dir(tid)
    # These change after their round; every other report is written once, by the round it tells of.
    rewritten = {ws.usage_file(tid).name, ws.secret_hashes_file(tid).name}
    for name, body in files.items():
        if not (folder / name).exists() or name in rewritten:
            make_dirs(folder)
            atomic_write(folder / name, body.decode("utf-8", "replace"))  # reports are UTF-8 text


def _give_reports(ws: Workspace, tid: str, remote: str) -> None:
    folder = ws.reviews_dir(tid)
    if not folder.is_dir():
        return
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    git.push_files(ws.root, remote, _reports_ref(tid), files, message=f"aios: review reports of {tid}")


def publish(ws: Workspace, tid: str) -> str | None:
    """Push the task branch to the shared remote; a sentence saying why not when it was refused.

    None when it was pushed, or when no remote is configured.

    Raises:
        GitError: the remote cannot be reached.
    """
    remote, branch = configured(ws), git.branch_name(tid)
    if remote is None or not git.branch_exists(ws.root, branch):
        return None
    _give_reports(ws, tid, remote)  # the approver's clone checks the round at the branch's head
    if git.push(ws.root, remote, git.head(ws.root, f"refs/heads/{branch}"), branch):
        return None
    return (
        f"{branch} was not pushed: {remote}'s copy has commits this clone lacks; "
        f"fetch them (`git fetch {remote}`), merge them into {branch} and run the review again"
    )


def merge(ws: Workspace, branch: str, target: str, *, message: str) -> str:
    """Merge ``branch`` into ``target`` once: on the shared remote when one is configured, else locally.

    Raises:
        MergeConflict, MergeBlocked, GitError: as ``git.merge`` and ``git.merge_to_remote``.
    """
    remote = configured(ws)
    if remote is None:
        return git.merge(ws.root, branch, target, message=message)
    return git.merge_to_remote(ws.root, remote, branch, target, message=message)
