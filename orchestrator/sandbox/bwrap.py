"""Running untrusted commands: bubblewrap sandbox, allow-list, limits.

A builder's check commands and the reviewer's evidence commands run code written by a model, so
they run under bubblewrap (see ``../shared/notes/sandbox.md`` for the checked recipe):

- an allow-list of mounts (``orchestrator.sandbox._mounts``): the system's ``/usr`` and a few ``/etc``
  files, the interpreter, the caller's read-only paths, the main repository's ``.git`` (read-only,
  its config without remotes) and the task's worktree, the only writable place besides a private
  ``/tmp``; nothing else of the host exists inside, so no file or socket elsewhere is reachable;
- ``git status`` and ``git diff`` work while ``git commit`` (and any hook or history edit) fails;
- no network, no capabilities, uid/gid 1000 inside and never host uid 0 (as root, the sandboxed
  code runs as ``nobody``), a clean environment;
- CPU seconds, processes, memory per process, file size, disk growth and core dumps are limited,
  a wall-clock limit kills the whole sandbox, and a limit hit comes back named in
  `CommandResult.limit_hit` and `CommandResult.limit_message` (``orchestrator.sandbox._limits``).

Where bubblewrap is missing, `require_sandbox` (which `run_command` calls) refuses with
`SandboxUnavailable` unless the caller passes ``sandbox=False`` (the CLI's explicit
``--no-sandbox``): never a silent fallback. Callers that must refuse before any work starts (a
review run, a builder round) call `require_sandbox` themselves, so the user sees one message.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from orchestrator.errors import AiosError, ConfigError
from orchestrator.sandbox import _limits, _mounts
from orchestrator.sandbox.environment import ProjectEnvironment

__all__ = [
    "CommandPolicy",
    "CommandRefused",
    "CommandResult",
    "Limits",
    "SandboxUnavailable",
    "bwrap_available",
    "require_sandbox",
    "run_command",
    "split_command",
    "writable_by_sandbox",
]

_SANDBOX_TMP = _mounts.TMP
_SYSTEM_PATH = _mounts.SYSTEM_PATH
_KILL_GRACE_S = 2.0
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
    limit_hit: str | None = None
    """The limit that stopped the command: ``time``, ``cpu``, ``processes``, ``memory``, ``file``
    (one file too large) or ``disk`` (the worktree grew too much, or the private /tmp filled)."""
    limit_message: str = ""
    """One line for people and models: the limit, its value and the workflow key that sets it."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.limit_hit is None


class Limits(BaseModel):
    """Resource limits for one command; also the workflow file's ``builder.limits`` section.

    The review's evidence commands take these too, except the time limit, which each dimension's
    evidence section sets.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(300.0, gt=0)
    """Wall-clock limit; the whole sandbox is killed when it passes."""
    cpu_s: int = Field(600, gt=0)
    """CPU seconds per process (RLIMIT_CPU)."""
    max_file_bytes: int = Field(256 * 1024 * 1024, gt=0)
    """Largest file a process may write (RLIMIT_FSIZE)."""
    max_output_bytes: int = Field(64 * 1024, gt=0)
    """How much of the end of stdout and of stderr is kept."""
    max_processes: int = Field(256, gt=0)
    """Processes and threads the sandboxed user may have at once (RLIMIT_NPROC, counted per
    sandbox in its own user namespace); not applied without the sandbox, where it would count
    every process of the user running aios."""
    max_memory_bytes: int = Field(2 * 1024**3, gt=0)
    """Writable memory per process (RLIMIT_DATA: heap and private mappings, not code, shared
    libraries or reserved-but-inaccessible address space, so runtimes that reserve a lot still
    start)."""
    max_disk_bytes: int = Field(1024**3, gt=0)
    """How much the worktree may grow during one command; also the size of the private ``/tmp``
    and ``/dev/shm`` (see ``orchestrator.sandbox._limits``)."""

    def __init__(self, **values: float) -> None:
        """Limits built in code: a bad value is a `ConfigError` naming its field, not a traceback.

        Raises:
            ConfigError: a limit is not positive, not a number, or unknown.
        """
        try:
            super().__init__(**values)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(map(str, first["loc"]))
            raise ConfigError(f"{first['msg']}, got {first['input']!r}", field=field) from None

    # pydantic would call an overridden __init__ for nested data too, and a ConfigError raised
    # there would lose the workflow file's line. This marker (the one BaseModel.__init__ carries)
    # keeps validating a file on pydantic's own path; tests/workflow/test_settings.py checks it.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


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


#: How to repair a command string whose quotes do not balance.
QUOTES_FIX = (
    "balance the quotes: each ' or \" that opens must close (quotes only keep spaces inside one argument)"
)


def parsable_command(text: str) -> str:
    """A pydantic validator for a command string in a file: it must split (see ``split_command``).

    The error carries its fix, so a workflow's ``builder.allowed_commands`` entry with an
    unbalanced quote is refused when the file is read, naming the file, line and field.
    """
    try:
        split_command(text)
    except CommandRefused as exc:
        fix = QUOTES_FIX if text.strip() else exc.fix
        context = {"problem": exc.message, "fix": fix}
        raise PydanticCustomError("command_syntax", "{problem}", context) from None
    return text


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
    environment: ProjectEnvironment | None = None,
    writable_paths: Sequence[Path] = (),
) -> CommandResult:
    """Run ``argv`` in ``worktree`` with a clean environment, limits and a time limit.

    Args:
        argv: the command; never passed through a shell.
        worktree: the working directory, the only writable place when sandboxed.
        limits: CPU, processes, memory, file size, disk, output and wall-clock limits.
        sandbox: run under bubblewrap; ``False`` only on the user's explicit ``--no-sandbox``.
        env: extra environment variables, on top of PATH (this interpreter's ``bin`` first),
            HOME, LANG and PYTHONDONTWRITEBYTECODE; nothing else of the caller's environment
            reaches the command, sandboxed or not. They travel on bwrap's command line, visible
            to ``ps``, so never put a secret here.
        read_only_paths: more paths to make visible read-only (a project environment, aios's own
            helper scripts); nothing outside the allow-list is visible otherwise.
        environment: the project's own Python environment
            (`orchestrator.sandbox.environment.resolve`): bound read-only, its ``bin`` first on
            PATH (before this interpreter's), ``VIRTUAL_ENV`` set, so ``python`` and ``pytest``
            are the project's. None: aios's own interpreter, as always.
        writable_paths: host folders outside the worktree the command may write (sandboxed, they
            are bound read-write at the same path): where a tool writes a report aios reads in
            full, since stdout and stderr keep only their last ``limits.max_output_bytes``.

    Returns:
        The result; a missing executable is returncode 127 with a clear stderr, a timeout is
        ``returncode=None, timed_out=True``, and any limit hit sets ``limit_hit`` and
        ``limit_message``.

    Raises:
        SandboxUnavailable: ``sandbox=True`` and bubblewrap cannot run here.
        CommandRefused: ``argv`` is empty.
        AiosError: ``worktree`` is not a directory.
    """
    argv = tuple(argv)
    worktree = _check_worktree(worktree)
    if sandbox:
        require_sandbox()
    full_env = _clean_env(sandbox, env, environment)
    missing = _missing_executable(argv, worktree, full_env["PATH"], sandbox)
    if missing is not None:
        return CommandResult(argv, 127, "", missing, 0.0, sandboxed=sandbox)
    watch = _disk_watch(worktree, limits, sandbox)
    cmd = _limited(argv, limits, sandbox)
    if not sandbox:
        return _execute(cmd, argv, worktree, full_env, limits, watch, sandbox)
    if environment is not None:
        read_only_paths = [*read_only_paths, *environment.read_only]
    plan = _bwrap_plan(cmd, worktree, full_env, read_only_paths, limits, writable_paths)
    try:
        return _execute(plan.args, argv, worktree, full_env, limits, watch, sandbox, pass_fds=plan.fds)
    finally:
        plan.close()


def writable_by_sandbox(folder: Path) -> None:
    """Let sandboxed commands write into ``folder`` (a reports folder passed as ``writable_paths``).

    As root the sandboxed code runs as ``nobody``, so the folder is handed to that uid; otherwise
    the sandbox's user is the caller's own and nothing changes.
    """
    if _mounts.as_root():
        os.chown(folder, _mounts.HOST_ID, _mounts.HOST_ID)


def _disk_watch(worktree: Path, limits: Limits, sandbox: bool) -> _limits.DiskWatch:
    # As root, the sandboxed code runs as `nobody`: it writes the worktree through its group, which
    # the walk that measures the worktree's size also hands files root created since the last run.
    share = _mounts.HOST_ID if sandbox and _mounts.as_root() else None
    if share is not None:
        _limits.share_root(worktree, share)
    return _limits.DiskWatch(worktree, limits.max_disk_bytes, share_with_gid=share)


def _check_worktree(worktree: Path) -> Path:
    if not worktree.is_dir():
        raise AiosError(f"worktree does not exist: {worktree}", fix="create the task's worktree first")
    return worktree.resolve()


def _clean_env(
    sandbox: bool, extra: Mapping[str, str] | None, environment: ProjectEnvironment | None = None
) -> dict[str, str]:
    # Plain runs keep the caller's PATH so tools outside /usr work (macOS); in the sandbox those
    # directories may be hidden, so a fixed system PATH keeps resolution honest.
    tail = _SYSTEM_PATH if sandbox else os.environ.get("PATH", os.defpath)
    path = f"{_venv_bin()}{os.pathsep}{tail}"
    env = {
        # The project's environment first; aios's own tools (ruff) stay reachable after it.
        "PATH": environment.path(path) if environment else path,
        "HOME": _SANDBOX_TMP if sandbox else tempfile.gettempdir(),
        "LANG": "C.UTF-8",
        # __pycache__ in the worktree would end up in the task's commit.
        "PYTHONDONTWRITEBYTECODE": "1",
        **(environment.variables() if environment else {}),
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


def _limited(argv: tuple[str, ...], limits: Limits, sandbox: bool) -> list[str]:
    """Prefix ``prlimit`` so the limits bind the command only, not bwrap.

    ``prlimit`` is preferred over ``preexec_fn``: the graph runs checks on threads, and
    ``preexec_fn`` is not safe once threads exist. Without it, `_execute` falls back.
    """
    prlimit = _prlimit()
    if prlimit is None:
        return list(argv)
    flags = [f"--{name}={soft}:{hard}" for name, soft, hard in _rlimits(limits, sandbox)]
    return [prlimit, *flags, "--", *argv]


def _rlimits(limits: Limits, sandbox: bool) -> list[tuple[str, int, int]]:
    """(prlimit name, soft, hard) per limit; the CPU hard limit a second later, so SIGXCPU comes first."""
    found = [
        ("cpu", limits.cpu_s, limits.cpu_s + 1),
        ("fsize", limits.max_file_bytes, limits.max_file_bytes),
        ("data", limits.max_memory_bytes, limits.max_memory_bytes),
        ("core", 0, 0),
    ]
    if sandbox:
        found.append(("nproc", limits.max_processes, limits.max_processes))
    return found


_RESOURCE = {"cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE, "data": resource.RLIMIT_DATA,
             "core": resource.RLIMIT_CORE, "nproc": resource.RLIMIT_NPROC}  # fmt: skip


@functools.cache
def _prlimit() -> str | None:
    found = shutil.which("prlimit", path=_SYSTEM_PATH)
    # Only a prlimit in a system directory stays visible inside the sandbox.
    return found if found and found.startswith(("/usr/", "/bin/", "/sbin/")) else None


def _preexec(limits: Limits, sandbox: bool) -> Callable[[], None] | None:
    if _prlimit() is not None:
        return None
    values = [(_RESOURCE[name], soft, hard) for name, soft, hard in _rlimits(limits, sandbox)]

    def set_limits() -> None:
        for which, soft, hard in values:
            resource.setrlimit(which, (soft, hard))

    return set_limits


# --- bubblewrap -----------------------------------------------------------------------------------


def bwrap_available() -> bool:
    """Whether bubblewrap is installed and can create a sandbox here (probed once)."""
    return _bwrap_problem() is None


def require_sandbox() -> None:
    """Refuse to go on where bubblewrap cannot sandbox commands: the one error for that.

    Raises:
        SandboxUnavailable: why (not installed, or no sandbox can be made here) and the fix
            (install bubblewrap, or pass ``--no-sandbox`` for code the user trusts).
    """
    problem = _bwrap_problem()
    if problem is not None:
        raise SandboxUnavailable(problem, fix=_INSTALL_FIX)


@functools.cache
def _bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox here, or None; a locked-down container may have it installed
    without user namespaces, or lack ``setpriv``/``unshare`` to leave root, so it is probed with
    the very command line the sandbox uses."""
    bwrap = _bwrap_path()
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed, so commands cannot run in a sandbox"
    with tempfile.TemporaryDirectory(prefix="aios-probe-") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 -- an empty folder the unprivileged probe must enter
        plan = _mounts.command(bwrap, ["true"], worktree=Path(folder), env={}, read_only_paths=(),
                              tmp_bytes=1 << 20)  # fmt: skip
        try:
            done = subprocess.run(plan.args, capture_output=True, text=True, timeout=10, check=False,
                                  pass_fds=plan.fds)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap cannot create a sandbox here: {exc}"
        finally:
            plan.close()
    if done.returncode != 0:
        needs = " (as root it also needs `setpriv` and `unshare` from util-linux 2.38 or later)"
        problem = f"bubblewrap cannot create a sandbox here: {done.stderr.strip()}"
        return problem + (needs if _mounts.as_root() else "")
    return None


@functools.cache
def _bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _bwrap_plan(
    cmd: list[str],
    worktree: Path,
    env: Mapping[str, str],
    read_only_paths: Sequence[Path],
    limits: Limits,
    writable_paths: Sequence[Path] = (),
) -> _mounts.Plan:
    return _mounts.command(
        _bwrap_path() or "bwrap",
        cmd,
        worktree=worktree,
        env=env,
        read_only_paths=read_only_paths,
        tmp_bytes=limits.max_disk_bytes,
        writable_paths=writable_paths,
    )


# --- process plumbing -----------------------------------------------------------------------------


def _execute(
    cmd: list[str],
    argv: tuple[str, ...],
    cwd: Path,
    env: dict[str, str],
    limits: Limits,
    watch: _limits.DiskWatch,
    sandbox: bool,
    *,
    pass_fds: Sequence[int] = (),
) -> CommandResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_preexec(limits, sandbox),
            pass_fds=tuple(pass_fds),
        )  # fmt: skip
    except OSError as exc:
        return CommandResult(argv, 127, "", f"aios: cannot run {argv[0]!r}: {exc}\n", 0.0, sandboxed=sandbox)
    out, err = _Tail(limits.max_output_bytes), _Tail(limits.max_output_bytes)
    killed = _pump(proc, out, err, start + limits.timeout_s, watch)
    if killed is None and watch.exceeded():
        killed = "disk"  # written between the last poll and the end
    returncode = None if killed == "time" else proc.returncode
    hit = killed or _limits.recognise(returncode, err.text(), limits, processes_limited=sandbox)
    grown = watch.grown if killed == "disk" else 0  # else a full /tmp, or no disk limit at all
    message = _limits.message(hit, limits, grown=grown) if hit else ""
    return CommandResult(argv, returncode, out.text(), err.text(), time.monotonic() - start,
                         killed == "time", sandbox, hit, message)  # fmt: skip


def _pump(
    proc: subprocess.Popen[bytes], out: _Tail, err: _Tail, deadline: float, watch: _limits.DiskWatch
) -> str | None:
    """Read both pipes into their tails until the process ends; the limit that killed it, if any."""
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            now = time.monotonic()
            if now >= deadline:
                return _kill(proc, "time")
            if watch.poll(now):
                return _kill(proc, "disk")
            for key, _ in sel.select(min(deadline - now, watch.interval)):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    key.data.add(chunk)
                else:
                    sel.unregister(key.fileobj)
    return _wait(proc, deadline, watch)


def _wait(proc: subprocess.Popen[bytes], deadline: float, watch: _limits.DiskWatch) -> str | None:
    """Wait for a process that closed its pipes, still minding the deadline and the disk."""
    while True:
        now = time.monotonic()
        if now >= deadline:
            return _kill(proc, "time")
        if watch.poll(now):
            return _kill(proc, "disk")
        try:
            proc.wait(min(deadline - now, watch.interval))
        except subprocess.TimeoutExpired:
            continue
        _close(proc)
        return None


def _kill(proc: subprocess.Popen[bytes], limit: str) -> str:
    # The whole process group: bwrap (whose --die-with-parent takes the sandbox along), or the
    # plain command and its children.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _drain(proc, time.monotonic() + _KILL_GRACE_S)
    _close(proc)
    return limit


def _drain(proc: subprocess.Popen[bytes], until: float) -> None:
    """Wait (briefly) until no process in the sandbox holds its output pipes any more.

    bwrap's death reaches the sandboxed processes a moment later (--die-with-parent); a writer
    that kept going meanwhile would count against the next command's disk limit.
    """
    pipes = [p for p in (proc.stdout, proc.stderr) if p is not None and not p.closed]
    with selectors.DefaultSelector() as sel:
        for pipe in pipes:
            sel.register(pipe, selectors.EVENT_READ)
        while sel.get_map() and (remaining := until - time.monotonic()) > 0:
            for key, _ in sel.select(remaining):
                if not os.read(key.fd, 65536):
                    sel.unregister(key.fileobj)


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
