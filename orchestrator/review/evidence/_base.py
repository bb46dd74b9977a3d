"""What every collector shares: the result model, the runner contract, the context, small helpers."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
import time
import tokenize
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.redact import mask_secrets
from orchestrator.review.diff import Diff
from orchestrator.review.findings import Dimension, Finding
from orchestrator.review.settings import EvidenceSettings
from orchestrator.sandbox.bwrap import CommandResult
from orchestrator.state.taskcard import Criterion

Runner: TypeAlias = Callable[[Sequence[str]], CommandResult]
"""Runs one argv in the task's worktree, under a time limit the caller bound."""

RunnerFactory: TypeAlias = Callable[[float], Runner]
"""Given a time limit in seconds, a ``Runner`` bound to it (the workflow binds the sandbox here).

A factory may also have a ``project`` method of the same shape (`ProjectRunners`): the runner for
the project's own commands (its tests, the acceptance checks), in the project's Python environment.
The plain call runs aios's own tools (ruff, detect-secrets). A factory without it runs both alike.
"""


@runtime_checkable
class ProjectRunners(Protocol):
    """A ``RunnerFactory`` that also runs the project's own commands in the project's environment."""

    def __call__(self, timeout_s: float) -> Runner: ...

    def project(self, timeout_s: float) -> Runner:
        """A runner whose commands find the project's ``python`` and ``pytest`` first."""
        ...


@runtime_checkable
class ReportingRunner(Protocol):
    """A ``Runner`` whose commands may write into ``reports``, a host folder outside the worktree.

    Tools write their structured reports (ruff JSON, junit XML) there and aios reads them in full
    after: stdout keeps only its tail, and the worktree is the change's to edit.
    """

    reports: Path

    def __call__(self, argv: Sequence[str]) -> CommandResult: ...


@contextlib.contextmanager
def report_folder(run: Runner) -> Iterator[Path | None]:
    """A fresh, empty folder outside the worktree the command ``run`` runs may write its report into.

    Its name is random and it exists only for one command, so no other command of the round can
    plant a report in it beforehand; it is removed after. None when ``run`` offers no reports
    folder (not a `ReportingRunner`): the tool then reports on stdout, whose cut start shows as an
    unreadable line, an error rather than a silent loss.
    """
    if not isinstance(run, ReportingRunner):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="report-", dir=run.reports))
    if os.geteuid() == 0:
        # As root the sandboxed code runs as another uid: hand the folder to the parent's owner.
        owner = run.reports.stat()
        os.chown(folder, owner.st_uid, owner.st_gid)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_report(path: Path) -> str | None:
    """A report a tool wrote (None when it wrote none); never a symlink, read in full."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@runtime_checkable
class RelocatableRunners(Protocol):
    """A ``RunnerFactory`` that can run the same commands in another folder (a checks view)."""

    def __call__(self, timeout_s: float) -> Runner: ...

    def at(self, worktree: Path) -> RunnerFactory:
        """The same runners, with ``worktree`` as the folder commands run in."""
        ...


def project_runner(runners: RunnerFactory, timeout_s: float) -> Runner:
    """The runner for the project's own commands: the factory's ``project`` one when it has it."""
    if isinstance(runners, ProjectRunners):
        return runners.project(timeout_s)
    return runners(timeout_s)


T = TypeVar("T")

MAX_READ_BYTES = 2_000_000


class EvidenceStatus(StrEnum):
    """Outcome of one evidence check."""

    PASSED = "passed"
    FAILED = "failed"
    """The check ran and found a problem (its findings say which)."""
    ERROR = "error"
    """The check could not run (missing tool, timeout, crash); the policy blocks on it."""


class EvidenceResult(BaseModel):
    """One evidence check's outcome, kept in the report."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """``ruff``, ``secrets``, ``acceptance:AC1``, ``tests``, ``coverage``, ``complexity`` ..."""
    dimension: Dimension
    status: EvidenceStatus
    command: list[str] | None = None
    """The argv run, or None for a check computed in process (duplication, size)."""
    duration_s: float = 0.0
    output_tail: str = ""
    """Last part of the command's output, with secrets masked."""
    reason: str | None = None
    """Why it failed or could not run, in one line."""
    findings: list[Finding] = Field(default_factory=list)

    @field_validator("output_tail", "reason")
    @classmethod
    def _masked(cls, text: str | None) -> str | None:
        return mask_secrets(text) if text else text

    @property
    def kind(self) -> str:
        """The check's family: the name up to a colon (``acceptance:AC1`` -> ``acceptance``)."""
        return self.name.partition(":")[0]


@dataclass(frozen=True)
class EvidenceContext:
    """Everything a collector needs about the change under review."""

    worktree: Path
    diff: Diff
    settings: EvidenceSettings = field(default_factory=EvidenceSettings)
    criteria: Sequence[Criterion] = ()
    test_paths: Sequence[str] = ()
    """Test files or directories the TaskCard names; empty runs the whole suite."""
    messages: Sequence[str] = ()
    """The commit messages of the change (scanned for text aimed at the reviewer)."""
    card_text: str = ""
    """The TaskCard as text (scanned for text aimed at the reviewer)."""
    card_path: str | None = None
    """The TaskCard's file, relative to the workspace root: canon, like ``workflows/``."""
    queue: str | None = None
    """The task's queue: in ``governance`` a change to the canon is expected, elsewhere it blocks."""
    base: str | None = None
    """The commit the change is compared with (the target branch's merge base), when known."""
    baseline_dir: Path | None = None
    """Where the merge base's check results are cached, one file per base commit and check: a
    folder outside the worktree the code under review cannot write. None: not kept across rounds."""
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` the first time ``key`` is asked for in this context, its result after.

        The round's checks share one context across threads; a second caller waits for the first.
        """
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]  # type: ignore[no-any-return]

    def is_test(self, path: str) -> bool:
        """True when ``path`` is a test file by the configured globs."""
        name = path.rsplit("/", 1)[-1]
        return any(fnmatch(path, g) or fnmatch(name, g) for g in self.settings.completeness.test_paths)


@dataclass
class Attempt:
    """A command run through the runner; ``reason`` is set when it could not run."""

    argv: list[str]
    result: CommandResult | None
    reason: str | None
    duration_s: float

    @property
    def returncode(self) -> int | None:
        """The exit code, or None when it did not finish."""
        return self.result.returncode if self.result else None

    @property
    def stdout(self) -> str:
        """Standard output (tail), or empty."""
        return self.result.stdout if self.result else ""

    def tail(self, chars: int) -> str:
        """The last ``chars`` of stdout and stderr together, secrets masked."""
        if self.result is None:
            return ""
        text = self.result.stdout + ("\n" + self.result.stderr if self.result.stderr else "")
        return mask_secrets(text.strip()[-chars:])


def attempt(run: Runner, argv: Sequence[str]) -> Attempt:
    """Run ``argv``; a runner exception, a timeout or an unstartable command sets ``reason``."""
    start = time.perf_counter()
    try:
        result = run(list(argv))
    except Exception as exc:  # noqa: BLE001 - any runner failure is an `error` result, never a pass
        return Attempt(list(argv), None, f"the runner failed: {type(exc).__name__}: {exc}", _since(start))
    return Attempt(list(argv), result, _why_not_run(argv, result), result.duration_s or _since(start))


def _why_not_run(argv: Sequence[str], result: CommandResult) -> str | None:
    if result.timed_out or result.returncode is None:
        return f"timed out after {result.duration_s:.1f} s"
    if result.limit_hit:  # the sandbox stopped it: processes, memory, disk, CPU or file size
        return result.limit_message
    if result.returncode in (126, 127):  # the shell's "cannot execute" / "command not found"
        return f"could not start `{argv[0]}` (exit {result.returncode}): {_last_line(result.stderr)}"
    return None


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return mask_secrets(lines[-1][:300]) if lines else "(no output)"


def from_attempt(
    name: str,
    dimension: Dimension,
    att: Attempt,
    *,
    tail_chars: int,
    findings: Sequence[Finding] = (),
    reason: str | None = None,
    status: EvidenceStatus | None = None,
) -> EvidenceResult:
    """Build the result of a command check; status defaults to error/failed/passed by reason and findings."""
    why = att.reason or reason
    if status is None:
        status = EvidenceStatus.ERROR if att.reason else _status_of(findings, reason)
    return EvidenceResult(
        name=name,
        dimension=dimension,
        status=status,
        command=att.argv,
        duration_s=round(att.duration_s, 3),
        output_tail=att.tail(tail_chars),
        reason=why,
        findings=list(findings) if status is not EvidenceStatus.ERROR else [],
    )


def _status_of(findings: Sequence[Finding], reason: str | None) -> EvidenceStatus:
    return EvidenceStatus.FAILED if findings or reason else EvidenceStatus.PASSED


def error_result(
    name: str, dimension: Dimension, reason: str, *, command: list[str] | None = None
) -> EvidenceResult:
    """A check that could not run."""
    return EvidenceResult(
        name=name,
        dimension=dimension,
        status=EvidenceStatus.ERROR,
        command=command,
        reason=mask_secrets(reason),
    )


def local_result(
    name: str, dimension: Dimension, findings: Sequence[Finding], *, note: str = "", duration_s: float = 0.0
) -> EvidenceResult:
    """The result of a check computed in process (no command)."""
    return EvidenceResult(
        name=name,
        dimension=dimension,
        status=_status_of(findings, None),
        duration_s=round(duration_s, 3),
        output_tail=note,
        findings=list(findings),
    )


def guarded(
    name: str, dimension: Dimension, check: Callable[[], list[EvidenceResult]]
) -> list[EvidenceResult]:
    """Run one check; a crash in our own code becomes an ``error`` result instead of vanishing."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a crashed check must block, not pass silently
        return [error_result(name, dimension, f"the check crashed: {type(exc).__name__}: {exc}")]


def cli_paths(paths: Iterable[str]) -> list[str]:
    """Paths as command arguments: ``./`` keeps a file named ``-x.py`` from reading as an option."""
    return [f"./{p}" for p in paths]


def match_path(reported: str, known: Iterable[str]) -> str | None:
    """Which of ``known`` (repo-relative) a tool's reported path (absolute or ``./``) is."""
    reported = reported.replace(os.sep, "/").removeprefix("./")
    best = [k for k in known if reported == k or reported.endswith("/" + k)]
    return max(best, key=len) if best else None


def read_source(worktree: Path, rel: str) -> str | None:
    """A file's text if it is a regular file inside the worktree (no symlinks) and not huge."""
    path = worktree / rel
    try:
        if path.is_symlink() or not path.resolve().is_relative_to(worktree.resolve()):
            return None
        if not path.is_file() or path.stat().st_size > MAX_READ_BYTES:
            return None
        return decode_source(path.read_bytes(), rel)
    except OSError:
        return None


def source_at(worktree: Path, commit: str, rel: str) -> str | None:
    """A file's text at ``commit`` (encoding honoured), or None when it did not exist there."""
    from orchestrator.sandbox import git

    done = git.run(worktree, "cat-file", "blob", f"{commit}:{rel}", check=False)
    if done.returncode != 0 or len(done.stdout) > MAX_READ_BYTES:
        return None
    return decode_source(done.stdout, rel)


def decode_source(data: bytes, rel: str) -> str:
    """A file's bytes as text: a Python file by its PEP 263 coding cookie or BOM, others as UTF-8.

    An unknown or wrong declared encoding falls back to UTF-8 with replacement characters.
    """
    encoding = "utf-8"
    if rel.endswith((".py", ".pyi")):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:  # an unknown codec in the cookie, or a BOM contradicting it
            encoding = "utf-8"
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def ranges(lines: Iterable[int]) -> str:
    """``1, 2, 3, 7`` -> ``1-3, 7``."""
    out: list[str] = []
    for n in sorted(set(lines)):
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)
