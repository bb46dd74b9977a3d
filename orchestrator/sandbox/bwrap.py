"""Running untrusted commands: bubblewrap sandbox, allow-list, limits.

A builder's check commands and the reviewer's evidence commands run code written by a model, so
they run under bubblewrap (see ``../shared/notes/sandbox.md`` for the checked recipe):

- the task's worktree is the only writable place besides a private tmpfs ``/tmp``;
- the main repository's working files are hidden and its ``.git`` is read-only, so ``git status``
  and ``git diff`` work while ``git commit`` (and any hook or history edit) fails;
- ``/root``, ``/home`` and ``/run`` are empty and read-only (credentials, docker/dbus sockets);
- no network, no capabilities, uid/gid 1000, a clean environment;
- CPU seconds, file size and core dumps are limited, and a wall-clock limit kills the whole sandbox.

Where bubblewrap is missing, `run_command` refuses with `SandboxUnavailable` unless the caller
passes ``sandbox=False`` (the CLI's explicit ``--no-sandbox``): never a silent fallback.

Example:
    >>> policy = CommandPolicy(["pytest", "python -m pytest", "ruff check"])
    >>> argv = split_command("pytest -q tests/test_x.py")
    >>> policy.check(argv)
    >>> result = run_command(argv, worktree=wt, limits=Limits(timeout_s=60))
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import AiosError, ConfigError

__all__ = [
    "CommandPolicy",
    "CommandRefused",
    "CommandResult",
    "Limits",
    "SandboxUnavailable",
    "bwrap_available",
    "run_command",
    "split_command",
]

_SANDBOX_UID = "1000"
_SANDBOX_TMP = "/tmp"  # noqa: S108 -- a private tmpfs inside the sandbox, not the host's /tmp
_HIDDEN_READ_ONLY = ("/root", "/home", "/run")
"""Emptied and made read-only inside: home directories hold credentials, /run holds sockets
(docker, dbus) that a read-only mount does not protect."""
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_INSTALL_FIX = (
    "install bubblewrap (`apt-get install bubblewrap`), or pass `--no-sandbox` to run commands "
    "without a sandbox (only for code you trust)"
)


class SandboxUnavailable(AiosError):
    """Bubblewrap is missing or cannot create a sandbox on this machine."""


class CommandRefused(AiosError):
    """A command is not on the allow-list or cannot be parsed."""


@dataclass(frozen=True)
class CommandResult:
    """What a command did."""

    argv: tuple[str, ...]
    returncode: int | None
    """None when the command was killed by the time limit."""
    stdout: str
    """Tail of standard output (capped)."""
    stderr: str
    """Tail of standard error (capped)."""
    duration_s: float
    timed_out: bool = False
    sandboxed: bool = True

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True)
class Limits:
    """Resource limits for one command."""

    timeout_s: float = 300.0
    """Wall-clock limit; the whole sandbox is killed when it passes."""
    cpu_s: int = 600
    """CPU seconds per process (RLIMIT_CPU)."""
    max_file_bytes: int = 256 * 1024 * 1024
    """Largest file a process may write (RLIMIT_FSIZE)."""
    max_output_bytes: int = 64 * 1024
    """How much of the end of stdout and of stderr is kept."""

    def __post_init__(self) -> None:
        for name in ("timeout_s", "cpu_s", "max_file_bytes", "max_output_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"limit must be positive, got {getattr(self, name)!r}", field=name)


# --- the allow-list -------------------------------------------------------------------------------


def split_command(text: str) -> list[str]:
    """Split a command string (a TaskCard ``check``) into argv, as a POSIX shell would quote it.

    Nothing is ever run through a shell, so ``;``, ``|`` or ``$(...)`` are plain arguments.

    Raises:
        CommandRefused: the text is empty or its quoting is unbalanced.
    """
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise CommandRefused(f"cannot parse command {text!r}: {exc}", fix="balance the quotes") from exc
    if not argv:
        raise CommandRefused("empty command", fix="give a command such as `pytest -q`")
    return argv


class CommandPolicy:
    """An allow-list of argv prefixes, compared token by token.

    Args:
        allowed: patterns such as ``"pytest"``, ``"python -m pytest"``, ``"ruff check"``; a command
            is allowed when its argv starts with all the tokens of one pattern.

    Example:
        >>> CommandPolicy(["ruff check"]).check(["ruff", "check", "src"])  # passes
        >>> CommandPolicy(["ruff check"]).check(["ruff", "format"])  # raises CommandRefused
    """

    def __init__(self, allowed: Sequence[str]) -> None:
        self.allowed: tuple[str, ...] = tuple(allowed)
        self._prefixes = tuple(self._parse(pattern) for pattern in self.allowed)

    @staticmethod
    def _parse(pattern: str) -> tuple[str, ...]:
        try:
            return tuple(split_command(pattern))
        except CommandRefused as exc:
            raise ConfigError(f"bad allow-list pattern {pattern!r}: {exc.message}") from exc

    def allows(self, argv: Sequence[str]) -> bool:
        """Whether ``argv`` starts with one of the allowed patterns."""
        tokens = tuple(argv)
        return any(tokens[: len(prefix)] == prefix for prefix in self._prefixes)

    def check(self, argv: Sequence[str]) -> None:
        """Refuse a command that is not on the allow-list.

        Raises:
            CommandRefused: with the allowed patterns in its ``fix``.
        """
        if self.allows(argv):
            return
        allowed = ", ".join(f"`{p}`" for p in self.allowed) or "(none)"
        raise CommandRefused(
            f"command not allowed: {shlex.join(argv)}",
            fix=f"use a command starting with one of: {allowed}",
        )


# --- running --------------------------------------------------------------------------------------


def run_command(
    argv: Sequence[str],
    *,
    worktree: Path,
    limits: Limits,
    sandbox: bool = True,
    env: Mapping[str, str] | None = None,
    read_only_paths: Sequence[Path] = (),
) -> CommandResult:
    """Run ``argv`` in ``worktree`` with a clean environment, limits and a time limit.

    Args:
        argv: the command; never passed through a shell.
        worktree: the working directory, the only writable place when sandboxed.
        limits: CPU, file size, output and wall-clock limits.
        sandbox: run under bubblewrap; ``False`` only on the user's explicit ``--no-sandbox``.
        env: extra environment variables (on top of PATH, HOME, LANG); they travel on bwrap's
            command line, visible to ``ps``, so never put a secret here.
        read_only_paths: more paths to make visible read-only (e.g. under the hidden /tmp or /home).

    Returns:
        The result; a missing executable is returncode 127 with a clear stderr, a timeout is
        ``returncode=None, timed_out=True``.

    Raises:
        SandboxUnavailable: ``sandbox=True`` and bubblewrap cannot run here.
        CommandRefused: ``argv`` is empty.
        AiosError: ``worktree`` is not a directory.
    """
    argv = tuple(argv)
    worktree = _check_worktree(worktree)
    if sandbox:
        _require_bwrap()
    full_env = _clean_env(sandbox, env)
    missing = _missing_executable(argv, worktree, full_env["PATH"], sandbox)
    if missing is not None:
        return CommandResult(argv, 127, "", missing, 0.0, sandboxed=sandbox)
    cmd = _limited(argv, limits)
    if sandbox:
        cmd = _bwrap_argv(cmd, worktree, full_env, read_only_paths)
    return _execute(cmd, argv, worktree, full_env, limits, sandbox)


def _check_worktree(worktree: Path) -> Path:
    if not worktree.is_dir():
        raise AiosError(f"worktree does not exist: {worktree}", fix="create the task's worktree first")
    return worktree.resolve()


def _clean_env(sandbox: bool, extra: Mapping[str, str] | None) -> dict[str, str]:
    # Plain runs keep the caller's PATH so tools outside /usr work (macOS); in the sandbox those
    # directories may be hidden, so a fixed system PATH keeps resolution honest.
    tail = _SYSTEM_PATH if sandbox else os.environ.get("PATH", os.defpath)
    env = {
        "PATH": f"{_venv_bin()}{os.pathsep}{tail}",
        "HOME": _SANDBOX_TMP if sandbox else tempfile.gettempdir(),
        "LANG": "C.UTF-8",
        # __pycache__ in the worktree would end up in the task's commit.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def _venv_bin() -> str:
    """The running interpreter's bin directory, so ``python``, ``pytest`` and ``ruff`` resolve there."""
    if sys.prefix != sys.base_prefix:
        return str(Path(sys.prefix) / "bin")
    return str(Path(sys.executable).parent)


def _missing_executable(argv: tuple[str, ...], cwd: Path, path: str, sandbox: bool) -> str | None:
    if not argv:
        raise CommandRefused("empty command", fix="give a command such as `pytest -q`")
    exe = argv[0]
    if os.sep in exe:
        found = (cwd / exe).is_file() and os.access(cwd / exe, os.X_OK)
    else:
        found = shutil.which(exe, path=path) is not None
    if found:
        return None
    where = "inside the sandbox" if sandbox else "on this machine"
    return f"aios: command not found {where}: {exe!r} (PATH={path})\n"


def _limited(argv: tuple[str, ...], limits: Limits) -> list[str]:
    """Prefix ``prlimit`` so the limits bind the command only, not bwrap.

    ``prlimit`` is preferred over ``preexec_fn``: the graph runs checks on threads, and
    ``preexec_fn`` is not safe once threads exist. Without it, `_execute` falls back.
    """
    prlimit = _prlimit()
    if prlimit is None:
        return list(argv)
    return [
        prlimit,
        f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",
        f"--fsize={limits.max_file_bytes}",
        "--core=0",
        "--",
        *argv,
    ]


@functools.cache
def _prlimit() -> str | None:
    found = shutil.which("prlimit", path=_SYSTEM_PATH)
    # Only a prlimit in a system directory stays visible inside the sandbox.
    return found if found and not found.startswith(_HIDDEN_READ_ONLY) else None


def _preexec(limits: Limits) -> Callable[[], None] | None:
    if _prlimit() is not None:
        return None

    def set_limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return set_limits


# --- bubblewrap -----------------------------------------------------------------------------------


def bwrap_available() -> bool:
    """Whether bubblewrap is installed and can create a sandbox here (probed once)."""
    return _bwrap_problem() is None


def _require_bwrap() -> None:
    problem = _bwrap_problem()
    if problem is not None:
        raise SandboxUnavailable(problem, fix=_INSTALL_FIX)


@functools.cache
def _bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox here, or None; a locked-down container may have it installed
    without user namespaces, so it is probed with the flags the sandbox needs."""
    bwrap = _bwrap_path()
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed, so commands cannot run in a sandbox"
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--uid", _SANDBOX_UID,
             "--gid", _SANDBOX_UID, "--cap-drop", "ALL", "--die-with-parent", "--", "true"]  # fmt: skip
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot create a sandbox here: {exc}"
    if done.returncode != 0:
        return f"bubblewrap cannot create a sandbox here: {done.stderr.strip()}"
    return None


@functools.cache
def _bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _bwrap_argv(
    cmd: list[str], worktree: Path, env: Mapping[str, str], read_only_paths: Sequence[Path]
) -> list[str]:
    main_git, main_root = _main_repository(worktree)
    hidden = _by_depth(p for p in (*_HIDDEN_READ_ONLY, main_root) if p and os.path.isdir(p))
    visible = _by_depth(p for p in (sys.base_prefix, sys.prefix, main_git, *map(str, read_only_paths)) if p)
    args = [_bwrap_path() or "bwrap", "--ro-bind", "/", "/", "--tmpfs", _SANDBOX_TMP]
    # Order matters: hide first, bring back read-only, bind the worktree, then freeze the hidden
    # tmpfs mounts (their mount points had to be created while they were still writable).
    for path in hidden:
        args += ["--tmpfs", path]
    for path in visible:
        args += ["--ro-bind-try", path, path]
    args += ["--bind", str(worktree), str(worktree)]
    # The worktree's `.git` file names the repository git runs on: rewritten, it could point the
    # orchestrator's own (unsandboxed) git calls at a config that runs commands.
    args += ["--ro-bind-try", str(worktree / ".git"), str(worktree / ".git")]
    for path in hidden:
        args += ["--remount-ro", path]
    args += ["--dev", "/dev", "--proc", "/proc", "--unshare-all", "--uid", _SANDBOX_UID,
             "--gid", _SANDBOX_UID, "--cap-drop", "ALL", "--die-with-parent", "--new-session",
             "--clearenv"]  # fmt: skip
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", str(worktree), "--", *cmd]


def _by_depth(paths: Iterable[str]) -> list[str]:
    """Unique absolute paths, parents before children (a later bind wins over an earlier one)."""
    unique = {os.path.abspath(p) for p in paths}
    return sorted(unique, key=lambda p: (p.count(os.sep), p))


def _main_repository(worktree: Path) -> tuple[str | None, str | None]:
    """The git common dir a linked worktree points to, and the main working tree to hide.

    Read from the ``.git`` file rather than asking git: this runs for every command.
    """
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return str(dot_git), None
    try:
        gitdir = worktree / dot_git.read_text().removeprefix("gitdir:").strip()  # may be relative
        common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
    except OSError:
        return None, None
    root = common.parent if common.name == ".git" else None
    return str(common), str(root) if root and root != worktree else None


# --- process plumbing -----------------------------------------------------------------------------


def _execute(
    cmd: list[str], argv: tuple[str, ...], cwd: Path, env: dict[str, str], limits: Limits, sandbox: bool
) -> CommandResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_preexec(limits),
        )  # fmt: skip
    except OSError as exc:
        return CommandResult(argv, 127, "", f"aios: cannot run {argv[0]!r}: {exc}\n", 0.0, sandboxed=sandbox)
    out, err = _Tail(limits.max_output_bytes), _Tail(limits.max_output_bytes)
    timed_out = _pump(proc, out, err, start + limits.timeout_s)
    returncode = None if timed_out else proc.returncode
    return CommandResult(
        argv, returncode, out.text(), err.text(), time.monotonic() - start, timed_out, sandbox
    )


def _pump(proc: subprocess.Popen[bytes], out: _Tail, err: _Tail, deadline: float) -> bool:
    """Read both pipes into their tails until the process ends; True when the deadline killed it."""
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _kill(proc)
            for key, _ in sel.select(remaining):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    key.data.add(chunk)
                else:
                    sel.unregister(key.fileobj)
    return _wait(proc, deadline)


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    try:
        proc.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return _kill(proc)
    _close(proc)
    return False


def _kill(proc: subprocess.Popen[bytes]) -> bool:
    # The whole process group: bwrap (whose --die-with-parent takes the sandbox along), or the
    # plain command and its children.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _close(proc)
    return True


def _close(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


class _Tail:
    """The last ``cap`` bytes of a stream, with a marker line when the start was dropped."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buf = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        extra = len(self.buf) - self.cap
        if extra > 0:
            del self.buf[:extra]
            self.dropped += extra

    def text(self) -> str:
        if not self.dropped:
            return self.buf.decode(errors="replace")
        # The marker counts against the cap; its widest form bounds its length.
        keep = max(self.cap - len(self._marker(self.dropped + self.cap)), 0)
        marker = self._marker(self.dropped + len(self.buf) - keep)
        return marker + self.buf[len(self.buf) - keep :].decode(errors="replace")

    @staticmethod
    def _marker(dropped: int) -> str:
        return f"[... {dropped} bytes dropped ...]\n"
