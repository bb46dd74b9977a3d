"""Reading and writing workspace files: atomic replacement, and OS errors turned into clear ones.

A reader or a crash sees the old file or the new one, never half. A full disk, a read-only
file system, a permission problem or a folder where a file belongs becomes a ``StateError``
(or the caller's error class) naming the file and the fix, never a traceback; a failed write
leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from orchestrator.errors import AiosError, StateError

#: errno -> (what happened, the fix; ``{dir}`` is the folder the file is in).
_WRITE_PROBLEMS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: (
        "the disk is full",
        "free some space on the disk holding {dir}, then run the command again (nothing was changed)",
    ),
    errno.EDQUOT: (
        "the disk quota is used up",
        "free some space in your quota on {dir}, then run the command again (nothing was changed)",
    ),
    errno.EROFS: (
        "the file system is read-only",
        "aios writes to the workspace: remount {dir} read-write, or work in a writable clone",
    ),
    errno.EACCES: (
        "permission denied",
        "give your user access to {dir} (`ls -ld {dir}` shows its owner), or run aios as that owner",
    ),
    errno.EPERM: (
        "the operation is not permitted",
        "give your user access to {dir} (`ls -ld {dir}` shows its owner), or run aios as that owner",
    ),
}


def os_error(
    exc: OSError, path: Path, *, error: type[AiosError] = StateError, doing: str = "write this file"
) -> AiosError:
    """``exc`` (raised while reading or writing ``path``) as one clear ``error`` naming the file and fix."""
    folder = str(path.parent) or "."
    if exc.errno == errno.EISDIR:
        return error(
            "this is a folder, but aios keeps a file here",
            file=path,
            fix=f"move the folder away (`mv {path} {path}.bak`), then `aios init` recreates what is missing",
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return error(
            "a file stands where aios expects a folder on this path",
            file=path,
            fix="move that file away; `aios init` recreates the folders",
        )
    unknown = (exc.strerror or str(exc), "check the file and its folder")
    what, fix = _WRITE_PROBLEMS.get(exc.errno or 0, unknown)
    return error(f"cannot {doing}: {what}", file=path, fix=fix.format(dir=folder))


def read_text(path: Path, *, error: type[AiosError] = StateError, file: str | Path | None = None) -> str:
    """The UTF-8 text of ``path``; a folder, a permission problem or other bytes is ``error``.

    ``FileNotFoundError`` passes through: callers say what a missing file means.
    ``file`` is how messages name the path (default: ``path`` itself).
    """
    name = Path(file) if file is not None else path
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise error(
            f"this is not UTF-8 text ({exc.reason} at byte {exc.start})",
            file=name,
            fix="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or restore it from git",
        ) from None
    except OSError as exc:
        raise os_error(exc, name, error=error, doing="read this file") from None


def make_dirs(path: Path) -> None:
    """``mkdir -p path``; a read-only or full file system is a ``StateError`` naming the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, path, doing="create this folder") from None


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``.

    Raises:
        StateError: the disk is full, the file system read-only, access denied, or ``path`` is a
            folder; ``path`` is left as it was and the temporary file removed.
    """
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # Interrupted (even by Ctrl-C) before the replace: the old file is intact; drop the temp.
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, path) from None
        raise


def append_text(path: Path, text: str) -> None:
    """Append ``text`` in one ``write`` call with O_APPEND, so concurrent appends do not interleave.

    Raises:
        StateError: the write failed (a full disk, a read-only file system, ...).
    """
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_error(exc, path) from None
    try:
        if os.write(fd, data) != len(data):  # only a full disk writes short to a regular file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError as exc:
        raise os_error(exc, path) from None
    finally:
        os.close(fd)
