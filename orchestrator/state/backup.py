"""``aios state backup`` and ``aios state restore``: copies of ``state/`` checked byte for byte.

A backup is ``backups/state-<date>[-n]/``: every file of ``state/`` (locks left out) plus
``MANIFEST.json``, each file's size and SHA-256, written last and checked by reading every copy
back. A restore first checks the backup (the manifest matches every file, and every file parses as
the state files must), keeps the current ``state/`` as a new backup, then writes the backup's
files in place, byte for byte, under the state lock.

The audit trails in ``ops/`` are append-only and are not part of a backup. A backup older than a
task's trail (the trail holds events recorded after the backup was taken) is refused: the restored
task file would have fewer events than its trail has lines, the task's next event would reuse a
line's number and break the chain, and the later history would read as tampered. Such a state is
recovered from git, where the trails and the task files were committed together.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestrator._files import make_dirs
from orchestrator._lock import exclusive
from orchestrator.errors import AiosError, StateError
from orchestrator.state import audit_chain
from orchestrator.state.workspace import Workspace

MANIFEST = "MANIFEST.json"


@dataclass
class Backup:
    """A backup written (or checked): its folder and the files it holds (relative to ``state/``)."""

    path: Path
    files: dict[str, str]
    """Relative path -> SHA-256."""


def _is_state_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    # Locks (the state lock, each run's lock) belong to the processes holding them; a temp file is
    # a write killed midway.
    return not (name.endswith(".lock") or name.endswith(".tmp"))


def state_files(folder: Path) -> dict[str, Path]:
    """The files of a ``state/`` folder (or a backup of one), by path relative to it."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and rel != MANIFEST and _is_state_file(rel):
            found[rel] = path
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def backup(ws: Workspace) -> Backup:
    """Copy ``state/`` to a new ``backups/state-<date>[-n]/`` and check every copy by reading it back.

    Raises:
        StateError: a copy does not read back as written (a full disk, a failing device).
    """
    with exclusive(ws.state_lock):
        return _backup(ws)


def _backup(ws: Workspace) -> Backup:
    target = _new_folder(ws)
    files: dict[str, str] = {}
    for rel, path in state_files(ws.state_dir).items():
        copy = target / rel
        make_dirs(copy.parent)
        shutil.copy2(path, copy)  # mtimes too: the index compares them
        files[rel] = _sha256(path)
    for rel, digest in files.items():
        if _sha256(target / rel) != digest:
            raise StateError(
                "a copied file does not read back as written",
                file=ws.rel(target / rel),
                fix="check the disk (space, errors), remove the folder and run `aios state backup` again",
            )
    (target / MANIFEST).write_text(json.dumps({"files": files}, indent=2, sort_keys=True) + "\n")
    return Backup(target, files)


def _new_folder(ws: Workspace) -> Path:
    day = datetime.now(UTC).date().isoformat()
    make_dirs(ws.backups_dir)
    for n in range(1, 10_000):
        path = ws.backups_dir / (f"state-{day}" if n == 1 else f"state-{day}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise StateError("too many backups today", file=ws.rel(ws.backups_dir), fix="remove old ones")


def check_backup(ws: Workspace, path: Path) -> tuple[Backup, list[AiosError]]:
    """The backup at ``path`` and every reason it cannot be restored (none: it can)."""
    rel = ws.rel(path)
    try:
        listed = json.loads((path / MANIFEST).read_text(encoding="utf-8"))["files"]
        assert isinstance(listed, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        fix = "pick a folder `aios state backup` wrote (backups/state-<date>/); a copy made by hand has none"
        return Backup(path, {}), [StateError("the backup has no readable MANIFEST.json", file=rel, fix=fix)]
    found = state_files(path)
    problems: list[AiosError] = []
    for name in sorted(set(listed) | set(found)):
        if name not in found or name not in listed or _sha256(found[name]) != listed[name]:
            why = (
                "is missing"
                if name not in found
                else ("is not in the manifest" if name not in listed else "was changed")
            )
            problems.append(
                StateError(f"{name} {why} since the backup was taken", file=rel, fix="restore another backup")
            )
    return Backup(path, listed), problems or _parses(ws, path)


def _parses(ws: Workspace, path: Path) -> list[AiosError]:
    """The backup's files read as a workspace's state (through a scratch workspace whose state/ is it),
    and no task in it is behind its audit trail."""
    from orchestrator.state import agents, escalations, refiled, sessions
    from orchestrator.state.store import Store

    problems: list[AiosError] = []
    with tempfile.TemporaryDirectory(prefix="aios-restore-") as tmp:
        scratch = Workspace(Path(tmp))
        os.symlink(path.resolve(), scratch.state_dir)
        store = Store(scratch)
        for check in (
            lambda: scratch.project,
            store.read_index,
            lambda: agents.load(scratch),
            lambda: sessions.load(scratch),
            lambda: escalations.load(scratch),
            lambda: refiled.load(scratch),
        ):
            try:
                check()
            except AiosError as exc:
                problems.append(exc)
        for task_file in sorted(scratch.tasks_dir.glob("TASK_*.yaml")):
            try:
                task = store.read_task(task_file.stem)
            except AiosError as exc:
                problems.append(exc)
                continue
            behind = audit_chain.verify(ws, task)
            if any("holds only" in why for _, why in behind.altered):
                problems.append(
                    StateError(
                        f"{task.id} in the backup has {len(task.events)} events, but its audit trail "
                        "holds later ones: restoring it would reuse their numbers",
                        file=ws.rel(ws.audit_file(task.id)),
                        fix="restore a newer backup, or recover state/ from git (trails and task files "
                        "are committed together)",
                    )
                )
    for problem in problems:
        if problem.file and str(problem.file).startswith("state/"):
            problem.file = f"{ws.rel(path)}/{str(problem.file).removeprefix('state/')}"
    return problems


@dataclass
class Restored:
    backup: Backup
    kept: Backup
    """The state as it was before the restore, kept as a new backup."""


def restore(ws: Workspace, path: Path) -> Restored:
    """Check the backup at ``path``, keep the current state as a new backup, restore it byte for byte.

    Raises:
        StateError: the backup cannot be restored (every reason in one message); nothing changed.
    """
    path = path if path.is_absolute() else (Path.cwd() / path)
    if not path.is_dir():
        raise StateError("no such backup folder", file=ws.rel(path), fix="`ls backups/` lists the backups")
    with exclusive(ws.state_lock):
        chosen, problems = check_backup(ws, path)
        if problems:
            shown = "\n  ".join(p.render().replace("\n", "\n    ") for p in problems)
            raise StateError(
                f"the backup cannot be restored, so nothing was changed:\n  {shown}",
                file=ws.rel(path),
                fix="restore another backup (`ls backups/`)",
            )
        kept = _backup(ws)
        _replace_state(ws, path, chosen)
    return Restored(chosen, kept)


def _replace_state(ws: Workspace, source: Path, chosen: Backup) -> None:
    for rel, current in state_files(ws.state_dir).items():
        if rel not in chosen.files:
            current.unlink()
    for rel in chosen.files:
        target = ws.state_dir / rel
        make_dirs(target.parent)
        tmp = target.with_name(f".{target.name}.restore.tmp")
        shutil.copy2(source / rel, tmp)
        os.replace(tmp, target)
