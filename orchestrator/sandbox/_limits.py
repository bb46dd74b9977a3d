"""Resource limits the kernel cannot state plainly: disk growth, and naming the limit a command hit.

Processes, memory, CPU and file size are rlimits (see ``orchestrator.sandbox.bwrap``), which make the
command fail rather than tell anyone why; `recognise` reads the exit and the end of stderr to
name the limit, so the builder and the reviewer get "exceeded the memory limit of 512 MiB"
instead of a bare exit code.

Disk: no rlimit caps the total a command writes (``RLIMIT_FSIZE`` is per file), and a hard cap
(a quota, a size-limited overlay) is not available to a plain bind mount, so `DiskWatch` measures
how much the worktree's allocated size grew: it polls while the command runs, killing it once the
growth passes the limit, and checks once more when it ends, so a run past the limit is always
reported. The poll is cheap (``statvfs``: the whole filesystem's usage, an upper bound of the
worktree's growth while nothing else frees space) and walks the tree only when that bound passes
the limit, or every interval in case something else freed space; the overshoot is what a process
writes in one poll (tens of MB at page-cache speed). ``/tmp`` and ``/dev/shm`` inside the sandbox
are tmpfs mounts of the same size: a hard cap there. Growth, not bytes written: rewriting one file
a hundred times costs the disk nothing.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path
from typing import Protocol

_WORKFLOW_KEY = "builder.limits"
_POLL_S = 0.02
"""How often the filesystem's usage is read."""
_WALK_MIN_S = 0.5
"""The shortest interval between unconditional walks of the tree."""
_TAIL_CHARS = 4000
_SIGNS: dict[str, tuple[str, ...]] = {
    "disk": ("No space left on device", "File too large", "Disk quota exceeded"),
    "memory": (
        "MemoryError",
        "Cannot allocate memory",
        "memory allocation of",
        "out of memory",
        "std::bad_alloc",
    ),
    "processes": (
        "BlockingIOError",
        "Resource temporarily unavailable",
        "fork: retry",
        "Cannot fork",
        "can't fork",
        "can't start new thread",
    ),
}
"""What a command prints when an rlimit refused it, per limit, checked in this order."""


class LimitValues(Protocol):
    """The fields of ``orchestrator.sandbox.bwrap.Limits`` read here."""

    @property
    def timeout_s(self) -> float: ...
    @property
    def cpu_s(self) -> int: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def max_processes(self) -> int: ...
    @property
    def max_memory_bytes(self) -> int: ...
    @property
    def max_disk_bytes(self) -> int: ...


# --- disk ---------------------------------------------------------------------------------------


class DiskWatch:
    """How much a worktree grew since the command started.

    Args:
        root: the worktree; its ``.git`` (a file, or a directory the sandbox binds read-only) is
            not walked.
        limit: growth in bytes that counts as exceeded.
        share_with_gid: when set (aios runs as root), also give this group what each entry's owner
            has, so the unprivileged sandbox user can write the files root created.
    """

    interval = _POLL_S
    """Seconds between polls."""

    def __init__(self, root: Path, limit: int, *, share_with_gid: int | None = None) -> None:
        self.root, self.limit = root, limit
        start = time.monotonic()
        self.fs_base = _fs_used(root)
        self.base = usage(root, share_with_gid)
        # A big tree is walked less often, so the walks stay a small share of the command's time.
        self.walk_every = max(_WALK_MIN_S, 20 * (time.monotonic() - start))
        self.next_walk = time.monotonic() + self.walk_every
        self.grown = 0

    def poll(self, now: float) -> bool:
        """Whether the growth passed the limit; walks the tree only when it may have."""
        if now < self.next_walk and _fs_used(self.root) - self.fs_base <= self.limit:
            return False
        self.next_walk = now + self.walk_every
        return self.exceeded()

    def exceeded(self) -> bool:
        """Walk now: whether the growth passed the limit."""
        self.grown = max(self.grown, usage(self.root) - self.base)
        return self.grown > self.limit


def _fs_used(root: Path) -> int:
    found = os.statvfs(root)
    return (found.f_blocks - found.f_bfree) * found.f_frsize


def usage(root: Path, share_with_gid: int | None = None) -> int:
    """Bytes allocated under ``root`` (symlinks not followed, ``root/.git`` skipped)."""
    total, stack = 0, [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # removed while walking, or not a folder any more
            continue
        for entry in entries:
            if folder == str(root) and entry.name == ".git":
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if share_with_gid is not None:
                _share(entry.path, info, share_with_gid)
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
    return total


def share_root(root: Path, gid: int) -> None:
    """Give ``gid`` the owner's access to ``root`` itself (`usage` does its contents)."""
    _share(str(root), os.stat(root), gid)


def _share(path: str, info: os.stat_result, gid: int) -> None:
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        return  # symlinks have no permissions of their own; devices and sockets are left alone
    mode = stat.S_IMODE(info.st_mode)
    # Directories get setgid so files root creates later join the group; each run re-shares them.
    wanted = mode | ((mode & 0o700) >> 3) | (stat.S_ISGID if stat.S_ISDIR(info.st_mode) else 0)
    if info.st_gid != gid:
        os.chown(path, -1, gid, follow_symlinks=False)
    if wanted != mode:
        os.chmod(path, wanted)


# --- naming the limit hit -----------------------------------------------------------------------


def recognise(
    returncode: int | None, stderr: str, limits: LimitValues, *, processes_limited: bool
) -> str | None:
    """Which rlimit stopped a finished command, from its exit and the end of its stderr, or None."""
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return "cpu"
    if returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "file"
    if not returncode:
        return None
    tail = stderr[-_TAIL_CHARS:]
    for limit, signs in _SIGNS.items():
        if (limit != "processes" or processes_limited) and any(sign in tail for sign in signs):
            return "file" if limit == "disk" and "File too large" in tail else limit
    return None


def message(limit: str, limits: LimitValues, *, grown: int = 0) -> str:
    """One line naming the limit, its value and the workflow key that sets it."""
    texts = {
        "time": (f"ran past its time limit of {limits.timeout_s:g} s", ""),
        "cpu": (f"used more than its CPU limit of {limits.cpu_s} s", "cpu_s"),
        "file": (
            f"tried to write a file larger than the limit of {size(limits.max_file_bytes)}",
            "max_file_bytes",
        ),
        "memory": (
            f"exceeded the memory limit of {size(limits.max_memory_bytes)} per process",
            "max_memory_bytes",
        ),
        "processes": (f"exceeded the limit of {limits.max_processes} processes", "max_processes"),
        "disk": (
            f"exceeded the disk limit of {size(limits.max_disk_bytes)} "
            + (f"(the worktree grew by {size(grown)})" if grown else "(its /tmp or /dev/shm is full)"),
            "max_disk_bytes",
        ),
    }
    text, key = texts[limit]
    # The evidence's time limits come from its own sections, so only the others name their key.
    return f"the command {text}" + (f"; the workflow's `{_WORKFLOW_KEY}.{key}` sets it" if key else "")


def size(n: int) -> str:
    """``536870912`` -> ``512 MiB``, ``1610612736`` -> ``1.5 GiB``, ``2000`` -> ``2000 bytes``."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= factor:
            return f"{n // factor} {unit}" if n % factor == 0 else f"{n / factor:.1f} {unit}"
    return f"{n} bytes"
