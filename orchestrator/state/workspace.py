"""A workspace: a git repository with ``state/project.yaml`` at its root, and the paths inside it.

Every file and folder aios keeps in a workspace is named here once; other modules ask the
``Workspace`` for a path rather than spelling it (``aios init`` creating one lives in ``setup``)::

    state/project.yaml  tasks.yaml  tasks/<ID>.yaml  agents.yaml  sessions.yaml  escalations.yaml
          refiled.yaml
          .lock  .journal  .run-<ID>.lock  checkpoints.sqlite
    tasks/inbox/<ID>.md                           TaskCards
    ops/audit/<ID>.md  governance.md              audit trails; the log of actions on no task
    ops/archive/<ID>.md                           finished tasks' trails, archived
    ops/reviews/<ID>/round-<N>.{md,json}  usage.json  secret-hashes.json
    ops/reviews/_baseline/                        evidence cached per target-branch commit (local)
    ops/freeze/queue-locks.md  FREEZE-<time>.md   history of queue locks; system freeze records
    ops/decision-log/ proposals/ deviations/      <date>-DEC|PROP|DEV-NNNN.md governance records
    .aios/worktrees/<ID>                          task worktrees (laid out by ``sandbox.git``)
    backups/state-<date>[-n]/                     copies of state/ (``aios state backup``)

Outside it, in the user's cache folder (``cache_home``): ``scan-<digest of the root>.sqlite``, what
full scans derived from each task file (``state.scan``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import AiosError

if TYPE_CHECKING:  # imported where used: a command that reads one task needs neither
    from orchestrator.state.project import Project

#: The folders under ``ops/`` a workspace starts with (the operating model's records).
OPS_DIRS = ("audit", "decision-log", "proposals", "deviations", "freeze", "archive")


def cache_home() -> Path:
    """The user's cache folder for aios: ``$AIOS_CACHE_DIR``, else ``$XDG_CACHE_HOME/aios``, else
    ``~/.cache/aios``."""
    if explicit := os.environ.get("AIOS_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aios"


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace, and its project settings (read on first use)."""

    root: Path

    # ---- state/: the store's files ----

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def project_file(self) -> Path:
        return self.state_dir / "project.yaml"

    @property
    def index_file(self) -> Path:
        return self.state_dir / "tasks.yaml"

    @property
    def tasks_dir(self) -> Path:
        return self.state_dir / "tasks"

    def task_file(self, task_id: str) -> Path:
        return self.tasks_dir / f"{task_id}.yaml"

    @property
    def agents_file(self) -> Path:
        return self.state_dir / "agents.yaml"

    @property
    def sessions_file(self) -> Path:
        return self.state_dir / "sessions.yaml"

    @property
    def escalations_file(self) -> Path:
        """Escalations and where each is on its route (``state.escalations``)."""
        return self.state_dir / "escalations.yaml"

    @property
    def refiled_file(self) -> Path:
        """Tasks re-filed into another queue under a new id, old id -> new (``state.refiled``)."""
        return self.state_dir / "refiled.yaml"

    @property
    def state_lock(self) -> Path:
        """The lock every state transaction holds."""
        return self.state_dir / ".lock"

    @property
    def journal_file(self) -> Path:
        """Task ids of a commit in progress; left behind only by a process killed midway."""
        return self.state_dir / ".journal"

    @property
    def checkpoints_db(self) -> Path:
        """The workflow graph's SQLite checkpoints."""
        return self.state_dir / "checkpoints.sqlite"

    def run_lock(self, task_id: str) -> Path:
        """Held by the one process driving ``task_id``'s workflow run."""
        return self.state_dir / f".run-{task_id}.lock"

    # ---- tasks/: TaskCards ----

    @property
    def cards_dir(self) -> Path:
        return self.root / "tasks"

    @property
    def inbox_dir(self) -> Path:
        return self.cards_dir / "inbox"

    # ---- ops/: records people read ----

    @property
    def ops_dir(self) -> Path:
        return self.root / "ops"

    @property
    def audit_dir(self) -> Path:
        return self.ops_dir / "audit"

    def audit_file(self, task_id: str) -> Path:
        """The task's append-only audit trail: ``ops/audit/<ID>.md``, or ``ops/archive/<ID>.md`` once
        ``aios maintenance archive-audits`` moved it there (appends then go on in the archive)."""
        live = self.audit_dir / f"{task_id}.md"
        if live.exists():
            return live
        archived = self.archive_dir / f"{task_id}.md"
        return archived if archived.exists() else live

    @property
    def archive_dir(self) -> Path:
        """Finished tasks' audit trails, moved out of ``ops/audit/`` by the monthly maintenance."""
        return self.ops_dir / "archive"

    @property
    def backups_dir(self) -> Path:
        """``aios state backup`` copies: ``backups/state-<date>[-n]/``."""
        return self.root / "backups"

    @property
    def decisions_dir(self) -> Path:
        """The decision log: ``<date>-DEC-NNNN.md`` records (``state.decisions``)."""
        return self.ops_dir / "decision-log"

    @property
    def proposals_dir(self) -> Path:
        """Spec change requests: ``<date>-PROP-NNNN.md`` records (``state.proposals``)."""
        return self.ops_dir / "proposals"

    @property
    def deviations_dir(self) -> Path:
        """L2 overrides: ``<date>-DEV-NNNN.md`` records (``state.deviations``)."""
        return self.ops_dir / "deviations"

    @property
    def freeze_dir(self) -> Path:
        return self.ops_dir / "freeze"

    @property
    def queue_locks_file(self) -> Path:
        """The history of queue locks and unlocks."""
        return self.freeze_dir / "queue-locks.md"

    @property
    def governance_log(self) -> Path:
        """The append-only log of governance actions on no single task (``audit.append_governance``)."""
        return self.audit_dir / "governance.md"

    def reviews_dir(self, task_id: str) -> Path:
        """The task's review round reports and what the reviews keep between processes."""
        return self.ops_dir / "reviews" / task_id

    @property
    def baseline_dir(self) -> Path:
        """Evidence on target-branch commits, cached per base commit across tasks and rounds."""
        return self.ops_dir / "reviews" / "_baseline"

    def usage_file(self, task_id: str) -> Path:
        """The task's model usage so far (calls, tokens, cost), across rounds and processes."""
        return self.reviews_dir(task_id) / "usage.json"

    def secret_hashes_file(self, task_id: str) -> Path:
        """Salted hashes of the secrets found in the task's change (``orchestrator.redact.save_hashes``)."""
        return self.reviews_dir(task_id) / "secret-hashes.json"

    # ---- outside the workspace: the user's cache ----

    @property
    def scan_cache(self) -> Path:
        """What full scans derived from each task file and trail, reused while it is unchanged
        (``state.scan``; deleting it only makes the next scan slower).

        In the user's cache folder, one file per workspace, not in the workspace: a command that
        only reads (``aios state check``) leaves every workspace file as it was.
        """
        digest = hashlib.sha256(os.fsencode(os.path.realpath(self.root))).hexdigest()[:16]
        return cache_home() / f"scan-{digest}.sqlite"

    # ---- .aios/: working copies ----

    def worktree(self, task_id: str) -> Path:
        """The task's git worktree, ``.aios/worktrees/<ID>`` (``git.worktree_path`` owns the layout).

        Raises:
            GitError: ``task_id`` is not a safe branch and folder name.
        """
        from orchestrator.sandbox import git

        return git.worktree_path(self.root, task_id)

    def rel(self, path: Path) -> str:
        """``path`` relative to the workspace root, for messages and links."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @cached_property
    def project(self) -> Project:
        from orchestrator.state.project import load_project

        return load_project(self.project_file)

    @classmethod
    def find(cls, start: Path | None = None, *, explicit: bool = False) -> Workspace:
        """The workspace containing ``start`` (default: the current directory), like git finds a repo.

        Raises:
            AiosError: no ``state/project.yaml`` here or above (or at ``start`` when ``explicit``).
        """
        here = (start or Path.cwd()).resolve()
        candidates = [here] if explicit else [here, *here.parents]
        for folder in candidates:
            if cls(folder).project_file.is_file():
                return cls(_enclosing_workspace(folder) or folder)
        where = f"at {here}" if explicit else f"in {here} or any folder above it"
        raise AiosError(
            f"no aios workspace {where}",
            fix="run `aios init` in your git repository, or pass --root to point at the workspace",
        )


def _enclosing_workspace(folder: Path) -> Path | None:
    """The workspace whose ``.aios/`` holds ``folder`` (a task's worktree, say), or None.

    A task's worktree holds a copy of ``state/``, ``workflows/``, ``personas/`` and ``prompts/`` as
    the task branch has them: read as a workspace, the branch under review would choose its own
    review settings and task records. aios run from inside one works on the workspace instead.
    """
    for parent in folder.parents:
        if parent.name == ".aios" and Workspace(parent.parent).project_file.is_file():
            return parent.parent
    return None
