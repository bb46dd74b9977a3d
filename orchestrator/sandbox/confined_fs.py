"""File tools confined to one directory (a task's worktree).

Every path is resolved in ONE kernel call beneath the root: ``openat2(2)`` with
``RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS``, called through ``ctypes`` because Python 3.11 has no
``os.openat2``. Checking ``Path.resolve()`` first and opening afterwards races: a symlink swapped in
between escapes. Kernels without openat2 (before 5.6, or a seccomp filter answering ENOSYS) get a
portable walk that opens one component at a time with ``O_NOFOLLOW`` and expands symlinks itself.

Refused with `PathEscape`: ``../x``, absolute paths, ``/proc/self/root/...``, symlinks leading out
(also when creating a file) or absolute symlinks, and any write into ``.git``. Symlinks that stay
inside are followed.

Example:
    >>> wt = ConfinedDir(Path(".aios/worktrees/TASK_DEV_0001"))
    >>> wt.write_text("src/app.py", "print('hi')\\n")
    >>> wt.search(r"print\\(", glob="*.py")
    [SearchHit(path='src/app.py', line_no=1, line="print('hi')")]
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from orchestrator.errors import AiosError

__all__ = ["ConfinedDir", "FileToolError", "PathEscape", "SearchHit"]

_SYS_OPENAT2 = 437  # the same number on every Linux architecture
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_MAX_SYMLINKS = 40  # as the kernel's own limit
_EAGAIN_RETRIES = 16
_ESCAPE_ERRNOS = {errno.EXDEV, errno.ELOOP}
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class FileToolError(AiosError):
    """A file tool could not do what was asked (missing file, not text, too large)."""


class PathEscape(FileToolError):
    """A path leads outside the confined directory, or a write targets ``.git``."""


class SearchHit(NamedTuple):
    """One line matching a search."""

    path: str
    """Relative to the confined root, with ``/`` separators."""
    line_no: int
    """1-based."""
    line: str
    """The line without its newline, cut to 400 characters."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _Openat2:
    """``openat2`` through libc's ``syscall``, remembering once the kernel lacks it."""

    def __init__(self) -> None:
        self.supported = hasattr(os, "O_PATH")  # Linux only
        self._syscall = ctypes.CDLL(None, use_errno=True).syscall if self.supported else None

    def __call__(self, dir_fd: int, path: str, flags: int, mode: int) -> int:
        assert self._syscall is not None
        how = _OpenHow(flags, mode if flags & os.O_CREAT else 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
        fd = self._syscall(
            ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dir_fd), ctypes.c_char_p(os.fsencode(path)),
            ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)),
        )  # fmt: skip
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        return int(fd)


_openat2 = _Openat2()


class ConfinedDir:
    """File tools that cannot leave ``root``.

    Args:
        root: the directory to confine to (resolved once, here).

    Raises:
        FileToolError: ``root`` is not a directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileToolError(f"not a directory: {self.root}")

    # --- public tools ---------------------------------------------------------------------------

    def read_text(self, rel: str, *, max_bytes: int = 1_000_000) -> str:
        """Read a UTF-8 text file.

        Raises:
            PathEscape: ``rel`` leads outside the root.
            FileToolError: missing, not a regular file, larger than ``max_bytes`` or not UTF-8.
        """
        with self._fd(rel, os.O_RDONLY | os.O_NONBLOCK) as fd:
            self._require_regular(fd, rel)
            data = _read_at_most(fd, max_bytes + 1)
        if len(data) > max_bytes:
            raise FileToolError(f"file is larger than {max_bytes} bytes", file=rel,
                                fix="use search to find the lines you need")  # fmt: skip
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise FileToolError("not a UTF-8 text file", file=rel) from exc

    def write_text(self, rel: str, text: str) -> None:
        """Replace (or create) a file atomically, creating missing parent directories.

        A symlink that stays inside is written through; the file keeps its permission bits.

        Raises:
            PathEscape: ``rel`` leads outside the root or into ``.git``.
            FileToolError: the parent is not a directory, or the write failed.
        """
        _refuse_dotdot_escape(rel)
        self._write(rel, text.encode(), shown=rel, hops=0)

    def list_dir(self, rel: str = ".") -> list[str]:
        """Sorted entry names of a directory, directories with a trailing ``/`` (``.git`` left out).

        Raises:
            PathEscape: ``rel`` leads outside the root.
            FileToolError: missing or not a directory.
        """
        with self._fd(rel, _DIR_FLAGS) as fd, os.scandir(fd) as entries:
            return sorted(
                e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries if e.name != ".git"
            )

    def walk(self, rel: str = ".", *, glob: str | None = None) -> list[str]:
        """Files beneath ``rel`` (root-relative, sorted), skipping ``.git`` and symlinked dirs.

        Args:
            rel: the directory to start from.
            glob: an ``fnmatch`` pattern matched against the relative path or the file name
                (``*`` crosses ``/``, so ``*.py`` finds ``src/app.py``).
        """
        with self._fd(rel, _DIR_FLAGS) as fd:
            found = [path for path in self._walk_fd(fd, _normal(rel)) if glob is None or _matches(path, glob)]
        return sorted(found)

    def search(self, pattern: str, *, glob: str | None = None, max_hits: int = 200) -> list[SearchHit]:
        """Lines matching a regular expression in the text files beneath the root.

        Binary files and files over 2 MB are skipped.

        Raises:
            FileToolError: the pattern is not a valid regular expression.
        """
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise FileToolError(f"bad regular expression {pattern!r}: {exc}") from exc
        hits: list[SearchHit] = []
        for path in self.walk(glob=glob):
            hits += self._search_file(path, regex, max_hits - len(hits))
            if len(hits) >= max_hits:
                break
        return hits

    # --- opening beneath the root ---------------------------------------------------------------

    @contextlib.contextmanager
    def _fd(self, rel: str, flags: int, mode: int = 0o644) -> Iterator[int]:
        """An fd for ``rel`` beneath the root; OS errors become file-tool errors."""
        _check_relative(rel)
        try:
            fd = self._open_raw(rel, flags, mode)
        except OSError as exc:
            raise _tool_error(exc, rel) from exc
        try:
            yield fd
        finally:
            os.close(fd)

    def _open_raw(self, rel: str, flags: int, mode: int = 0o644) -> int:
        root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            return _open_beneath(root_fd, rel, flags | os.O_CLOEXEC, mode)
        finally:
            os.close(root_fd)

    # --- writing --------------------------------------------------------------------------------

    def _write(self, rel: str, data: bytes, *, shown: str, hops: int) -> None:
        """Write ``rel``; errors name ``shown``, the path the caller gave before any symlink."""
        parent, name = _split_parent(rel)
        for part in PurePosixPath(rel).parts:
            _check_git_name(part, shown)
        with self._dir_creating(parent, shown) as dir_fd:
            target = _lstat(name, dir_fd)
            if target is not None and stat.S_ISLNK(target.st_mode):
                link = os.readlink(name, dir_fd=dir_fd)
                return self._write_through(rel, link, data, shown=shown, hops=hops)
            _replace(dir_fd, name, data, target, shown)
        return None

    def _write_through(self, rel: str, link: str, data: bytes, *, shown: str, hops: int) -> None:
        # Follow the link textually and write its target, so the link survives; the target path
        # goes through the same confinement as any other path.
        if os.path.isabs(link):
            raise PathEscape(f"symlink points outside the directory: -> {link}", file=shown)
        if hops >= _MAX_SYMLINKS:
            raise FileToolError("too many levels of symbolic links", file=shown)
        self._write(str(PurePosixPath(rel).parent / link), data, shown=shown, hops=hops + 1)

    @contextlib.contextmanager
    def _dir_creating(self, parent: str, rel: str) -> Iterator[int]:
        """An fd for directory ``parent``, created if missing, refused when inside ``.git``."""
        try:
            fd = self._open_dir_creating(parent, rel)
        except OSError as exc:
            raise _tool_error(exc, rel) from exc
        try:
            self._refuse_git(fd, rel)
            yield fd
        finally:
            os.close(fd)

    def _open_dir_creating(self, parent: str, rel: str) -> int:
        try:
            return self._open_raw(parent, _DIR_FLAGS)
        except FileNotFoundError:
            path = PurePosixPath(parent)
            with self._dir_creating(str(path.parent), rel) as up, contextlib.suppress(FileExistsError):
                os.mkdir(path.name, dir_fd=up)
            # Re-resolve the whole path: ``path.name`` may be ``..`` or a symlink.
            return self._open_raw(parent, _DIR_FLAGS)

    def _refuse_git(self, dir_fd: int, rel: str) -> None:
        """Refuse when ``dir_fd`` is the root's ``.git`` or below it, however the path got there."""
        try:
            git = os.lstat(self.root / ".git")
        except FileNotFoundError:
            return
        if stat.S_ISDIR(git.st_mode) and _has_ancestor(dir_fd, (git.st_dev, git.st_ino), _id(self.root)):
            raise PathEscape("writing into .git is not allowed", file=rel)

    # --- walking and searching ------------------------------------------------------------------

    @staticmethod
    def _walk_fd(fd: int, prefix: str) -> Iterator[str]:
        # fwalk works on fds and, with follow_symlinks=False, never enters a symlinked directory.
        for top, dirs, files, _ in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
            dirs[:] = [d for d in dirs if d != ".git"]
            yield from (_normal(os.path.join(prefix, top, f)) for f in files)

    def _search_file(self, path: str, regex: re.Pattern[str], limit: int) -> list[SearchHit]:
        text = self._text_or_none(path)
        if text is None:
            return []
        hits = []
        for no, line in enumerate(text.splitlines(), start=1):
            if regex.search(line):
                hits.append(SearchHit(path, no, line[:400]))
                if len(hits) >= limit:
                    break
        return hits

    def _text_or_none(self, path: str) -> str | None:
        try:
            with self._fd(path, os.O_RDONLY | os.O_NONBLOCK) as fd:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return None
                data = _read_at_most(fd, 2_000_001)
        except FileToolError:
            return None  # escaping symlinks and vanished files are simply not searched
        if len(data) > 2_000_000 or b"\0" in data[:8192]:
            return None
        return data.decode(errors="replace")

    @staticmethod
    def _require_regular(fd: int, rel: str) -> None:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileToolError("not a regular file", file=rel)


# --- the two resolvers ----------------------------------------------------------------------------


def _open_beneath(root_fd: int, rel: str, flags: int, mode: int) -> int:
    """Open ``rel`` beneath ``root_fd``: openat2 when the kernel has it, else the portable walk."""
    for _ in range(_EAGAIN_RETRIES):
        if not _openat2.supported:
            break
        try:
            return _openat2(root_fd, rel, flags, mode)
        except OSError as exc:
            # RESOLVE_BENEATH answers EAGAIN when a rename raced the lookup: retry, as the man
            # page asks. ENOSYS: no openat2 on this kernel, so walk from now on.
            if exc.errno == errno.ENOSYS:
                _openat2.supported = False
            elif exc.errno != errno.EAGAIN:
                raise
    return _walk_open(root_fd, rel, flags, mode)


def _walk_open(root_fd: int, rel: str, flags: int, mode: int) -> int:
    """Resolve one component at a time with ``O_NOFOLLOW``, expanding symlinks by hand.

    A stack of directory fds makes ``..`` exact (it pops to the real parent, not a textual one),
    and popping the root is an escape.
    """
    stack = [os.dup(root_fd)]
    todo = [p for p in reversed(rel.split("/")) if p not in ("", ".")]
    links = 0
    try:
        while todo:
            part = todo.pop()
            if part == "..":
                _pop(stack, rel)
                continue
            last = not todo
            fd = _open_component(stack[-1], part, flags if last else _DIR_FLAGS, mode)
            if fd is None:  # a symlink: splice its target into the remaining path
                links += 1
                todo += _link_parts(stack[-1], part, rel, links)
                continue
            if last:
                return fd
            stack.append(fd)
        return os.dup(stack[-1]) if flags & os.O_DIRECTORY else os.open(".", flags, mode, dir_fd=stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


def _open_component(dir_fd: int, name: str, flags: int, mode: int) -> int | None:
    """Open one name without following it; None when it is a symlink."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    except OSError as exc:
        # Linux says ELOOP for a symlink under O_NOFOLLOW, FreeBSD EMLINK; ENOTDIR comes from a
        # symlink opened with O_DIRECTORY.
        if exc.errno not in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
            raise
        st = _lstat(name, dir_fd)
        if st is None or not stat.S_ISLNK(st.st_mode):
            raise
        return None


def _link_parts(dir_fd: int, name: str, rel: str, links: int) -> list[str]:
    if links > _MAX_SYMLINKS:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
    target = os.readlink(name, dir_fd=dir_fd)
    if os.path.isabs(target):  # as RESOLVE_BENEATH: absolute symlinks always leave
        raise OSError(errno.EXDEV, "absolute symlink", rel)
    return [p for p in reversed(target.split("/")) if p not in ("", ".")]


def _pop(stack: list[int], rel: str) -> None:
    if len(stack) == 1:
        raise OSError(errno.EXDEV, "path leads outside the root", rel)
    os.close(stack.pop())


# --- small helpers --------------------------------------------------------------------------------


def _check_relative(rel: str) -> None:
    if not rel or "\0" in rel:
        raise FileToolError("empty path or NUL byte in path", file=repr(rel))
    if os.path.isabs(rel):
        raise PathEscape(
            "absolute paths are not allowed", file=rel, fix="give a path relative to the worktree"
        )


def _refuse_dotdot_escape(rel: str) -> None:
    # Checked textually before any directory is created, so a refused write leaves nothing
    # behind; the kernel check still follows for symlinks.
    _check_relative(rel)
    if os.path.normpath(rel).split(os.sep)[0] == "..":
        raise PathEscape("path leads outside the directory", file=rel, fix="use a path inside the worktree")


def _check_git_name(part: str, rel: str) -> None:
    if part.casefold() == ".git":
        raise PathEscape("writing into .git is not allowed", file=rel)


def _tool_error(exc: OSError, rel: str) -> FileToolError:
    if exc.errno in _ESCAPE_ERRNOS:
        return PathEscape("path leads outside the directory (.., a symlink, /proc) or loops", file=rel,
                          fix="use a path inside the worktree")  # fmt: skip
    return FileToolError(exc.strerror or str(exc), file=rel)


def _split_parent(rel: str) -> tuple[str, str]:
    _check_relative(rel)
    path = PurePosixPath(rel)
    if path.name in ("", ".", "..") or rel.endswith("/"):
        raise FileToolError("not a file name", file=rel)
    return str(path.parent), path.name


def _replace(dir_fd: int, name: str, data: bytes, old: os.stat_result | None, rel: str) -> None:
    """Write a temp file next to ``name`` and rename it over, both relative to ``dir_fd``."""
    tmp = f".{name}.{secrets.token_hex(4)}.aios-tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if old is not None and stat.S_ISREG(old.st_mode):
                os.fchmod(out.fileno(), stat.S_IMODE(old.st_mode))
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise FileToolError(exc.strerror or str(exc), file=rel) from exc


def _has_ancestor(dir_fd: int, wanted: tuple[int, int], stop: tuple[int, int]) -> bool:
    """Whether ``wanted`` is ``dir_fd`` or one of its ancestors, climbing ``..`` up to ``stop``."""
    fd = os.dup(dir_fd)
    try:
        while True:
            here = _id(fd)
            if here == wanted:
                return True
            if here == stop:
                return False
            up = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = up
            if _id(fd) == here:  # "/" is its own parent
                return False
    finally:
        os.close(fd)


def _id(file: int | Path) -> tuple[int, int]:
    st = os.stat(file)
    return st.st_dev, st.st_ino


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _normal(path: str) -> str:
    return PurePosixPath(os.path.normpath(path)).as_posix()


def _matches(path: str, glob: str) -> bool:
    return fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(PurePosixPath(path).name, glob)
