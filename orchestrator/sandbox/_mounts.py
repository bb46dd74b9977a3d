"""The bubblewrap command line: an allow-list of mounts and an unprivileged user.

Inside the sandbox only these exist (everything else, such as ``/root``, ``/home``, ``/var``,
``/opt``, ``/srv``, ``/run``, ``/mnt``, a CI home anywhere, other source trees and the host's
``/tmp``, is simply absent, so its files and path-named sockets cannot be reached):

- the system, read-only: ``/usr`` (with ``/bin``, ``/lib``, ``/lib64``, ``/sbin`` as the links or
  directories they are on the host), a few files from ``/etc`` (never ``shadow`` or ``ssl/private``),
  and a synthetic ``passwd``, ``group`` and ``gitconfig``;
- the interpreter, read-only: the venv and the Python installation it was made from;
- the caller's read-only paths (aios's own evidence helpers, a project environment);
- the main repository's ``.git``, read-only, its ``config`` replaced by a copy holding only a few
  ``core.*`` keys and ``extensions.*`` (a remote URL may carry a token);
- the worktree, read-write, with its ``.git`` file read-only;
- a private, size-limited ``/tmp`` and ``/dev/shm``, a minimal ``/dev``, the sandbox's own ``/proc``.

The sandboxed process never runs as host uid 0. As root, bubblewrap needs its privileges to bind
sources only root can reach (a pyenv under ``/root``, a 0700 pytest folder), so it sets up the
mounts and the namespaces, keeps only CAP_SETUID/CAP_SETGID, and runs ``setpriv`` to become
``nobody`` and ``unshare`` to map that to uid 1000 in a user namespace of the sandbox's own (which
also makes ``RLIMIT_NPROC`` count this sandbox's processes only). As another user, bubblewrap's
user namespace maps uid 1000 to that user, which is already unprivileged.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_ID = 1000
"""uid and gid inside the sandbox."""
HOST_ID = 65534
"""The host uid and gid (``nobody``/``nogroup``) sandboxed code runs as when aios runs as root."""
TMP = "/tmp"  # noqa: S108 -- a private tmpfs inside the sandbox, not the host's /tmp
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "ld.so.cache", "nsswitch.conf", "localtime", "hosts", "alternatives", "mime.types", "os-release",
    "ssl/certs",
)  # fmt: skip
"""Read-only from the host: what the loader, Python, git and common tools read (each bind costs
bubblewrap a little, so only these). Not ``passwd`` (it lists the host's users and homes): a
synthetic one stands in."""
_PASSWD = (
    f"sandbox:x:{SANDBOX_ID}:{SANDBOX_ID}:sandbox:{TMP}:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
_GROUP = f"sandbox:x:{SANDBOX_ID}:\nnogroup:x:65534:\n"
_GITCONFIG = "[safe]\n\tdirectory = *\n"
"""As root, the worktree belongs to a uid the sandbox does not map, so git's ownership check would
refuse it; the sandbox's git reads only what this allow-list shows it."""
_CORE_KEYS = frozenset({
    "repositoryformatversion", "bare", "filemode", "symlinks", "ignorecase", "precomposeunicode",
    "logallrefupdates", "autocrlf", "eol", "safecrlf", "checkstat", "trustctime", "abbrev", "quotepath",
})  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")


def as_root() -> bool:
    """Whether aios runs as root, so the sandbox must switch to an unprivileged host uid."""
    return os.geteuid() == 0


@dataclass
class Plan:
    """A bubblewrap argv and the file descriptors it reads synthetic files from."""

    args: list[str] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    _read_only: list[str] = field(default_factory=list)
    _tmpfs: dict[str, bool] = field(default_factory=dict)
    """Each tmpfs mounted, and whether it stays writable."""
    _dirs: set[str] = field(default_factory=set)

    def close(self) -> None:
        """Close the descriptors (once bubblewrap has started, or failed to)."""
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()

    def bind(self, kind: str, src: str, dest: str) -> None:
        self._parents(dest)
        self.args += [kind, src, dest]
        if kind.startswith("--ro-bind"):
            self._read_only.append(dest)

    def tmpfs(self, dest: str, size: int) -> None:
        """A private, world-writable (sticky) tmpfs of at most ``size`` bytes."""
        self._parents(dest)
        self.args += ["--perms", "1777", "--size", str(size), "--tmpfs", dest]
        self._dirs.add(dest)
        self._tmpfs[dest] = True

    def special(self, kind: str, dest: str) -> None:
        """A filesystem bubblewrap makes itself: ``--dev`` or ``--proc``."""
        self.args += [kind, dest]
        self._dirs.add(dest)

    def hide(self, dest: str) -> None:
        """An empty folder over ``dest``, made read-only by `freeze` once the binds inside it are done."""
        self._parents(dest)
        self.args += ["--perms", "0755", "--tmpfs", dest]
        self._dirs.add(dest)
        self._tmpfs[dest] = False

    def freeze(self) -> None:
        """Make the folders `hide` mounted read-only, and the root."""
        for dest, writable in self._tmpfs.items():
            if not writable:
                self.args += ["--remount-ro", dest]
        self.args += ["--remount-ro", "/"]

    def data(self, text: str, dest: str) -> None:
        """A read-only file at ``dest`` holding ``text``."""
        fd = os.memfd_create("aios-sandbox", os.MFD_CLOEXEC)
        os.write(fd, text.encode())
        os.lseek(fd, 0, os.SEEK_SET)
        self.fds.append(fd)
        self._parents(dest)
        self.args += ["--perms", "0444", "--ro-bind-data", str(fd), dest]

    def _parents(self, dest: str) -> None:
        # bubblewrap creates missing parents as 0700 when it runs as root, which `nobody` could not
        # enter; directories inside a read-only bind already exist and cannot be changed. Inside
        # the private /tmp they stay as writable as /tmp itself.
        for parent in reversed(Path(dest).parents[:-1]):
            name = str(parent)
            if name in self._dirs or _under(name, self._read_only):
                continue
            self.args += ["--perms", "1777" if self._in_writable_tmpfs(name) else "0755", "--dir", name]
            self._dirs.add(name)

    def _in_writable_tmpfs(self, path: str) -> bool:
        mounts = [m for m in self._tmpfs if _under(path, [m])]
        return bool(mounts) and self._tmpfs[max(mounts, key=len)]


def command(
    bwrap: str,
    cmd: Sequence[str],
    *,
    worktree: Path,
    env: Mapping[str, str],
    read_only_paths: Sequence[Path],
    tmp_bytes: int,
    writable_paths: Sequence[Path] = (),
) -> Plan:
    """The full bubblewrap argv running ``cmd`` in ``worktree`` (see the module docstring).

    ``writable_paths`` are host folders outside the worktree bound writable at the same path: where
    a tool writes its structured report (ruff JSON, junit XML) for aios to read in full after.
    """
    plan = Plan(args=[bwrap])
    _system(plan)
    plan.tmpfs(TMP, tmp_bytes)  # before any bind under it
    _project(plan, worktree, read_only_paths)
    for path in writable_paths:
        plan.bind("--bind", str(path), str(path))
    plan.special("--dev", "/dev")
    plan.tmpfs("/dev/shm", tmp_bytes)  # noqa: S108 -- private; multiprocessing's semaphores live there
    plan.special("--proc", "/proc")
    plan.freeze()
    plan.args += _identity()
    plan.args += ["--die-with-parent", "--new-session", "--clearenv"]
    for key, value in env.items():
        plan.args += ["--setenv", key, value]
    plan.args += ["--chdir", str(worktree), "--", *_drop_root(), *cmd]
    return plan


def _project(plan: Plan, worktree: Path, read_only_paths: Sequence[Path]) -> None:
    """The interpreter, the read-only paths, the main repository's `.git` and the worktree."""
    common = _git_common_dir(worktree)
    main_root = _main_root(common, worktree)
    paths = _by_depth([*_interpreter_paths(), *map(str, read_only_paths), common, main_root])
    inside = [p for p in paths if _under(p, [str(worktree)]) and p != str(worktree)]
    for path in paths:
        if path == main_root:
            # The worktree sits inside the main repository, whose untracked files (.env) may
            # hold secrets: only its `.git` and the worktree are bound inside this empty folder.
            plan.hide(path)
        elif not _under(path, _SYSTEM_DIRS) and path not in inside:
            plan.bind("--ro-bind-try", path, path)
    plan.bind("--bind", str(worktree), str(worktree))
    # Read-only paths inside the worktree (a project's `.venv` when the worktree is the main
    # checkout) come after it: bound before, the writable worktree would cover them.
    for path in inside:
        plan.bind("--ro-bind-try", path, path)
    # The worktree's `.git` file names the repository git runs on: rewritten, it could point the
    # orchestrator's own (unsandboxed) git calls at a config that runs commands.
    plan.bind("--ro-bind-try", str(worktree / ".git"), str(worktree / ".git"))
    if common and os.path.isfile(os.path.join(common, "config")):
        plan.data(sanitized_git_config(os.path.join(common, "config")), os.path.join(common, "config"))


def _system(plan: Plan) -> None:
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            plan.args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            plan.bind("--ro-bind", path, path)
    for name in _ETC_FILES:
        path = f"/etc/{name}"
        if os.path.exists(path):
            plan.bind("--ro-bind", path, path)
    plan.data(_PASSWD, "/etc/passwd")
    plan.data(_GROUP, "/etc/group")
    plan.data(_GITCONFIG, "/etc/gitconfig")


def _identity() -> list[str]:
    ids = str(SANDBOX_ID)
    if as_root():
        # No user namespace from bubblewrap: it would map the sandbox's uid to root. `setpriv` and
        # `unshare` below need these two capabilities; nothing after them keeps any.
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # fmt: skip
    return ["--unshare-all", "--uid", ids, "--gid", ids, "--cap-drop", "ALL"]


def _drop_root() -> list[str]:
    if not as_root():
        return []
    host, ids = str(HOST_ID), str(SANDBOX_ID)
    return [_system_tool("setpriv"), f"--reuid={host}", f"--regid={host}", "--clear-groups",
            "--inh-caps=-all", "--",
            _system_tool("unshare"), f"--map-user={ids}", f"--map-group={ids}", "--"]  # fmt: skip


@functools.cache
def _system_tool(name: str) -> str:
    """A util-linux tool from the system's folders (the only ones visible inside)."""
    return shutil.which(name, path=SYSTEM_PATH) or f"/usr/bin/{name}"


@functools.cache
def _interpreter_paths() -> tuple[str, ...]:
    """The venv and the installation it was made from (with symlinks resolved, and as named)."""
    names = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parent.parent)}  # fmt: skip
    return tuple(sorted({p for name in names for p in (name, os.path.realpath(name))}))


def _by_depth(paths: Iterable[str | None]) -> list[str]:
    """Unique absolute paths, parents before children (a later bind wins over an earlier one)."""
    unique = {os.path.abspath(p) for p in paths if p}
    return sorted(unique, key=lambda p: (p.count(os.sep), p))


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _git_common_dir(worktree: Path) -> str | None:
    """The git directory a linked worktree's data lives in (its ``.git`` dir when not linked).

    Read from the ``.git`` file rather than asking git: this runs for every command.
    """
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return str(dot_git)
    try:
        gitdir = worktree / dot_git.read_text().removeprefix("gitdir:").strip()  # may be relative
        return str((gitdir / (gitdir / "commondir").read_text().strip()).resolve())
    except OSError:
        return None


def _main_root(common: str | None, worktree: Path) -> str | None:
    """The main repository's working folder, when the worktree is a linked one inside it."""
    if common is None or os.path.basename(common) != ".git":
        return None
    root = os.path.dirname(common)
    return root if root != str(worktree) else None


def sanitized_git_config(path: str) -> str:
    """The repository config with only the keys git needs to read it: no remotes, no includes."""
    stat = os.stat(path)
    return _sanitized(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _sanitized(path: str, _mtime_ns: int, _size: int) -> str:
    core: list[str] = []
    extensions: list[str] = []
    section = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            header = re.match(r'\s*\[\s*([A-Za-z0-9.-]+)\s*(?:"[^"]*")?\s*\](.*)', raw)
            if header:
                # A subsection (`[core "x"]`) is never one of the kept keys.
                section = "" if '"' in raw.split("]")[0] else header[1].lower()
                raw = header[2]
            kept = _kept_line(section, raw)
            if kept:
                (core if section == "core" else extensions).append(kept)
    text = "[core]\n" + "".join(core)
    return text + ("[extensions]\n" + "".join(extensions) if extensions else "")


def _kept_line(section: str, line: str) -> str | None:
    found = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(\S*)\s*)?(?:[#;].*)?", line.rstrip("\n"))
    if section not in ("core", "extensions") or not found:
        return None
    key, value = found[1].lower(), found[2] if found[2] is not None else "true"
    if (section == "core" and key not in _CORE_KEYS) or not _TOKEN.fullmatch(value):
        return None
    return f"\t{key} = {value}\n"
