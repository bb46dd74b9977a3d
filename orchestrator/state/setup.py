"""``aios init``: make a git repository a workspace, creating only what is missing.

What is meant to be committed: the YAML under ``state/`` (project, index, task files, agents,
sessions), the TaskCards in ``tasks/`` and the records in ``ops/`` (audit trails, reviews): they
are the project's history of who decided what. What is not (`LOCAL_FILES`): locks, the store's
journal and temporary files, the review runs' checkpoints and the task worktrees, which belong to
one machine and one moment; ``aios init`` lists them in the repository's ``.gitignore``.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator import _yaml
from orchestrator._files import append_text, atomic_write, make_dirs
from orchestrator.errors import AiosError, StateError
from orchestrator.sandbox import git
from orchestrator.state.project import HEADER, default_project
from orchestrator.state.stores import open_store, shared_store
from orchestrator.state.workspace import OPS_DIRS, Workspace


def init(path: Path, *, owner: str, email: str | None = None) -> tuple[Workspace, list[str]]:
    """Make the git repository at ``path`` a workspace; returns it and what was created.

    ``owner`` becomes the project's one member, with the owner role (L0) and ``email`` (the git
    ``user.email`` that identifies them, when known). Running it again creates nothing and returns
    an empty list: existing files are never touched.
    """
    ws = Workspace(git.toplevel(path).resolve())
    created = _folders(ws) + _files(ws, owner=owner, email=email)
    if shared_store(ws) is not None:
        open_store(ws).rebuild_index()  # the workspace's rows in the database: nothing in state/
    elif not ws.index_file.exists():
        open_store(ws).rebuild_index()
        created.append(ws.rel(ws.index_file))
    return ws, created + _gitignore(ws)


def _folders(ws: Workspace) -> list[str]:
    created: list[str] = []
    for folder in [ws.tasks_dir, ws.inbox_dir, *(ws.ops_dir / d for d in OPS_DIRS)]:
        if not folder.is_dir():
            make_dirs(folder)
            created.append(ws.rel(folder) + "/")
    return created


def _files(ws: Workspace, *, owner: str, email: str | None) -> list[str]:
    files = {
        ws.project_file: lambda: HEADER + _yaml.dump(default_project(ws.root.name, owner, email)),
        ws.agents_file: lambda: _yaml.dump({"schema_version": 1, "agents": []}),
        ws.sessions_file: lambda: _yaml.dump({"schema_version": 1, "sessions": []}),
    }
    created: list[str] = []
    for file, render in files.items():
        if not file.exists():
            atomic_write(file, render())
            created.append(ws.rel(file))
    return created


#: The header of aios's block in ``.gitignore``; the block is appended below the user's own lines.
GITIGNORE_HEADER = (
    "# aios: machine-local files. Commit the rest of state/, tasks/ and ops/: they are the project's record."
)


def local_files(ws: Workspace) -> list[str]:
    """``.gitignore`` patterns for what aios keeps on one machine only (anchored at the root)."""
    state = "/" + ws.rel(ws.state_dir)
    return [
        "/" + ws.rel(ws.worktree("X").parent.parent) + "/",  # .aios/: task worktrees
        f"{state}/{ws.state_lock.name}",
        f"{state}/.run-*.lock",
        f"{state}/{ws.journal_file.name}",
        f"{state}/{ws.checkpoints_db.name}",
        f"{state}/{ws.checkpoints_db.name}-*",  # SQLite's -wal, -shm and -journal files
        f"{state}/**/.*.tmp",  # an atomic write's temporary file, left by a killed process
        "/" + ws.rel(ws.baseline_dir) + "/",  # evidence cached per target-branch commit
    ]


def _gitignore(ws: Workspace) -> list[str]:
    """Add the missing `local_files` patterns to ``.gitignore``; the user's lines stay as they are."""
    file = ws.root / ".gitignore"
    try:
        text = file.read_text(encoding="utf-8") if file.exists() else ""
    except UnicodeDecodeError:
        raise StateError(
            "the file is not UTF-8 text", file=file, fix="save it as UTF-8, then run `aios init` again"
        ) from None
    except OSError as exc:  # a folder, or unreadable
        raise StateError(
            f"cannot read it: {exc.strerror}",
            file=file,
            fix="make it a readable file, then run `aios init` again",
        ) from None
    present = {line.strip() for line in text.splitlines()}
    missing = [pattern for pattern in local_files(ws) if pattern not in present]
    if not missing:
        return []
    block = ([GITIGNORE_HEADER] if GITIGNORE_HEADER not in present else []) + missing
    separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    append_text(file, separator + "\n".join(block) + "\n")  # appended: keeps the file's mode
    return [ws.rel(file)]


def damage(ws: Workspace) -> list[StateError]:
    """A quick look for state ``aios init`` cannot fix by creating files: the project, the index, the
    agents and sessions files do not read (a full ``aios state check`` reads every task file)."""
    from orchestrator.state import agents, sessions

    problems: list[StateError] = []
    for check in (
        lambda: ws.project,
        open_store(ws).read_index,
        lambda: agents.load(ws),
        lambda: sessions.load(ws),
    ):
        try:
            check()
        except StateError as exc:
            problems.append(exc)
        except AiosError as exc:
            problems.append(
                StateError(exc.message, file=exc.file, field=exc.field, line=exc.line, fix=exc.fix)
            )
    return problems


def repair(ws: Workspace, *, owner: str, email: str | None = None) -> tuple[list[str], list[AiosError]]:
    """``aios init --repair``: recreate what can be derived, and list what could not be.

    Missing folders and files are created as ``init`` does; an index that is missing or does not
    read is rebuilt from the task files (a queue whose lock cannot be read stays locked). What is
    left is every problem ``aios state check`` still finds: broken task files, an unreadable
    project file, altered audit trails; those need a person (git, a backup).
    """
    from orchestrator.state.check import check_state, rebuild

    try:
        _, created = init(ws.root, owner=owner, email=email)
    except AiosError:
        created = []  # a file init needs does not read: the check below names it
    try:
        open_store(ws).read_index()
    except StateError:
        try:
            rebuild(ws)
            created.append(f"{ws.rel(ws.index_file)} (rebuilt from {ws.rel(ws.tasks_dir)}/)")
        except AiosError:
            pass  # reported below by the check
    return created, check_state(ws)
