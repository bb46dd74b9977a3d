"""A derived cache of values read from workspace files, kept while each file is unchanged.

Full scans (``aios task list --all``, ``state check``, ``state rebuild``, ``metrics``) read tens of
thousands of files; parsing a task file's YAML costs about 330 µs, its cached digest a few. The
files stay the truth: a value is reused only while its file's *stat key* is the one it was
derived under, so any write is seen at once:

- the key is device, inode, size, ``st_mtime_ns`` and ``st_ctime_ns``. aios replaces files (a new
  inode); an editor writing in place moves the mtime; restoring the mtime afterwards (``touch -d``,
  ``os.utime``) still moves the ctime, which no user call can set back;
- a file changed within ``RACY_NS`` of the scan is not cached (git's "racily clean" rule): the
  file system's clock ticks coarsely, so a write in the same tick as the one before it could leave
  the key as it was. Such a file is read again next time, until it is older;
- a file whose key moved while it was read is not cached.

The cache is one SQLite file per workspace in the user's cache folder (``Workspace.scan_cache``):
outside the workspace, so a command that only reads changes no workspace file. SQLite makes each
save atomic and lets processes read and save at once.
It is only ever a shortcut: a cache that is missing, locked, corrupt, from another aios version,
or on a read-only disk is dropped or skipped and the files are read, never an error. Values are
JSON (not pickle or marshal: a planted cache file cannot run code, and its keys cannot match files
it never saw, whose inodes and ctimes it cannot predict).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator import _gc

#: Bump when the cache's own layout changes: every older row is dropped. What each kind of row
#: holds is versioned by its caller (``FileCache(..., versions=)``): a digest of the code deriving it.
VERSION = 1
#: Files changed this recently (ns) are read, not cached: see the module docstring.
RACY_NS = 1_000_000_000
#: How long a save waits for another process's save before giving up (the cache is optional).
_BUSY_MS = 200
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memo (
    kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


def stat_key(st: os.stat_result) -> str:
    """The key a value derived from a file is kept under (see the module docstring)."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def task_files(folder: Path, suffix: str) -> dict[str, os.stat_result | None]:
    """``TASK_*<suffix>`` files in ``folder`` by name, sorted, with their stat (None: cannot stat):
    what a scan keys its rows by."""
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    with entries:
        matching = sorted(
            (e for e in entries if e.name.startswith("TASK_") and e.name.endswith(suffix)), key=_NAME
        )
    found: dict[str, os.stat_result | None] = {}
    for entry in matching:  # one loop, no call per file: a stat is most of a warm scan's time
        try:
            found[entry.name] = entry.stat()
        except OSError:
            found[entry.name] = None  # a dangling link: reading it says what is wrong
    return found


_NAME = operator.attrgetter("name")


class FileCache:
    """The cache of one workspace: read rows of one ``kind`` at a time, put new ones, then ``save``."""

    def __init__(self, path: Path, *, versions: dict[str, str] | None = None) -> None:
        """``versions``: kind -> the version of what its rows hold (a digest of the code deriving
        them); rows kept under another version are dropped when the cache opens."""
        self.path = path
        self.since = time.time_ns() - RACY_NS
        """Files changed after this instant are not cached."""
        self._db = _open(path, versions or {})
        self._rows: dict[str, dict[str, tuple[str, Any]]] = {}
        """kind -> name -> (key, value decoded from JSON; ``_DAMAGED`` when it does not decode)."""
        self._put: dict[tuple[str, str], tuple[str, str]] = {}
        self._gone: set[tuple[str, str]] = set()
        self._pause: contextlib.ExitStack | None = None

    def cachable(self, st: os.stat_result) -> bool:
        """Whether a file with this stat is old enough to cache (see ``RACY_NS``)."""
        return max(st.st_mtime_ns, st.st_ctime_ns) < self.since

    def get(self, kind: str, name: str, key: str, *, bulk: bool = True) -> Any:
        """The value kept for ``name`` under ``key``; None when there is none (or it is stale).

        ``bulk`` reads every row of ``kind`` at the first call (a full scan); without it, a kind not
        read yet is asked for this one row (a few files changed since the last scan).
        """
        row = self._kind(kind).get(name) if bulk or kind in self._rows else self._row(kind, name)
        if row is None or row[0] != key or row[1] is _DAMAGED:
            return None
        return row[1]

    def put(self, kind: str, name: str, key: str, value: Any) -> None:
        """Keep ``value`` for ``name`` under ``key`` (written by ``save``)."""
        rows = self._rows.get(kind)
        if rows is not None and rows.get(name) == (key, value):
            return
        if rows is not None:
            rows[name] = (key, value)
        self._put[(kind, name)] = (key, json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def retain(self, kind: str, names: set[str]) -> set[str]:
        """Drop the rows of ``kind`` for files not in ``names`` (deleted since); returns those."""
        rows = self._rows.get(kind)
        gone = {n for n in (rows if rows is not None else self._names(kind)) if n not in names}
        self.forget(kind, gone)
        return gone

    def forget(self, kind: str, names: set[str]) -> None:
        """Drop the rows of ``kind`` for ``names`` (read or not)."""
        rows = self._rows.get(kind, {})
        for name in names:
            rows.pop(name, None)
            self._gone.add((kind, name))

    def save(self) -> None:
        """Write what changed in one transaction; skipped (silently) when the cache is unusable."""
        if self._db is None or not (self._put or self._gone):
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO memo (kind, name, key, value) VALUES (?, ?, ?, ?)",
                    [(kind, name, key, value) for (kind, name), (key, value) in self._put.items()],
                )
                self._db.executemany("DELETE FROM memo WHERE kind = ? AND name = ?", sorted(self._gone))
        except sqlite3.Error:
            return  # locked by another save for too long, a full disk: the next scan tries again
        self._put.clear()
        self._gone.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> FileCache:
        self._pause = contextlib.ExitStack()
        self._pause.enter_context(_gc.paused())  # a scan's rows: see ``orchestrator._gc``
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.save()
            self.close()
            self._rows.clear()  # freed now, while the collector is off, not walked once more
        finally:
            if self._pause is not None:
                self._pause.close()

    def _kind(self, kind: str) -> dict[str, tuple[str, Any]]:
        if kind not in self._rows:
            self._rows[kind] = self._load(kind)
        return self._rows[kind]

    def _row(self, kind: str, name: str) -> tuple[str, Any] | None:
        rows = self._query("SELECT key, value FROM memo WHERE kind = ? AND name = ?", kind, name)
        return (rows[0][0], _decode_all([rows[0][1]])[0]) if rows else None

    def _names(self, kind: str) -> list[str]:
        return [row[0] for row in self._query("SELECT name FROM memo WHERE kind = ?", kind)]

    def _query(self, sql: str, *args: str) -> list[Any]:
        if self._db is None:
            return []
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error:
            self.close()  # corrupt since it was opened: read the files this time
            return []

    def _load(self, kind: str) -> dict[str, tuple[str, Any]]:
        rows = self._query("SELECT name, key, value FROM memo WHERE kind = ?", kind)
        values = _decode_all([text for _, _, text in rows])
        return {name: (key, value) for (name, key, _), value in zip(rows, values, strict=True)}


#: A row whose value is not JSON: a miss.
_DAMAGED = object()


def _decode_all(texts: list[str]) -> list[Any]:
    """Each JSON text decoded; ``_DAMAGED`` for one that is not JSON.

    One ``json.loads`` of them all as one array when every row is sound (a fifth of the time of
    50,000 calls). A row that spans two values there still fails its caller's shape checks (each
    names its file), so it is a miss, never a wrong answer.
    """
    try:
        values = json.loads(f"[{','.join(texts)}]")
    except ValueError:
        values = None
    if isinstance(values, list) and len(values) == len(texts):
        return values
    return [_decode(text) for text in texts]


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _DAMAGED


def _version() -> str:
    return f"{VERSION}/py{sys.version_info[0]}.{sys.version_info[1]}"


def source_digest(*files: str | None) -> str:
    """A short digest of source files: the version of what code in them derives (any edit to the
    code, an upgrade of aios, invalidates what it cached)."""
    digest = hashlib.sha256()
    for file in files:
        with contextlib.suppress(OSError, TypeError):
            digest.update(Path(file).read_bytes())  # type: ignore[arg-type]
    return digest.hexdigest()[:16]


def _open(path: Path, versions: dict[str, str]) -> sqlite3.Connection | None:
    """The cache's database, ready to use; None when it cannot be (then nothing is cached)."""
    for attempt in range(2):
        try:
            return _connect(path, versions)
        except (sqlite3.OperationalError, OSError):
            return None  # locked by another process's save, a read-only disk: read the files
        except sqlite3.Error:
            if attempt == 0:
                _discard(path)  # corrupt, or not a database at all: start afresh
    return None


def _connect(path: Path, versions: dict[str, str]) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None)
    try:
        db.isolation_level = "DEFERRED"  # `with db:` wraps each save in one transaction
        # WAL: readers never wait for a save, and a save killed midway is rolled back on next open.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost last save after a power cut is re-derived
        db.executescript(_SCHEMA)
        _check_version(db, versions)
    except BaseException:
        db.close()
        raise
    return db


def _check_version(db: sqlite3.Connection, versions: dict[str, str]) -> None:
    """Drop every row kept by another layout, and the rows of a kind kept by other code."""
    wanted = {"version": _version(), **{f"kind:{kind}": v for kind, v in versions.items()}}
    found = dict(db.execute("SELECT name, value FROM meta").fetchall())
    stale = [name for name, value in wanted.items() if found.get(name) != value]
    if not stale:
        return
    with db:
        for name in stale:
            if name == "version":
                db.execute("DELETE FROM memo")
            else:
                db.execute("DELETE FROM memo WHERE kind = ?", (name.removeprefix("kind:"),))
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, wanted[name]))


def _discard(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")
