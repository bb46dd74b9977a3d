"""Baselines: only what the change introduces counts.

A test that already fails on the target branch's merge base, or a ruff or bandit finding already
there, is not the change's doing: it is reported as ``pre-existing`` (info, its rule marked
``:pre-existing``) and never blocks. The merge base's checks run in a copy of that commit
(``git archive``, no ``.git``) only when the change has failures or findings to compare, once per
base commit: the results are cached in ``EvidenceContext.baseline_dir`` (outside the worktree) and
in the round's memo. The base's failed tests are re-run once, as the change's are: one that passes
then is flaky there, not a pre-existing failure.
When the base cannot run, every finding counts, as without a baseline.

Findings are matched by (rule, file, the flagged line's text with whitespace collapsed), not by
line number: the change moves lines. Failing tests are matched by their node id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from orchestrator.review.evidence import _bandit
from orchestrator.review.evidence._base import (
    EvidenceContext,
    EvidenceResult,
    EvidenceStatus,
    RelocatableRunners,
    RunnerFactory,
    project_runner,
    read_source,
)
from orchestrator.review.evidence._ruff import run_ruff
from orchestrator.review.evidence.completeness import run_tests, settle
from orchestrator.review.evidence.testconfig import merge_base
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.sandbox import git

PRE_EXISTING = "pre-existing"

KINDS = {
    Dimension.QUALITY: frozenset({"ruff", "bandit"}),
    Dimension.COMPLETENESS: frozenset({"tests"}),
}
"""The checks whose findings can be pre-existing, by dimension (the check's result name)."""

LINT_SOURCES = frozenset({"ruff", "bandit"})
"""Finding sources keyed by the flagged line's text: what a linter reports on a line."""

Key = tuple[str, str, str]
"""(rule, file, what identifies it: the test's message, or the flagged line's normalised text)."""


def apply_baseline(
    ctx: EvidenceContext,
    dimension: Dimension,
    results: list[EvidenceResult],
    runners: RunnerFactory,
    timeout: float,
) -> list[EvidenceResult]:
    """``results`` with what the merge base already had marked ``pre-existing``.

    Unchanged when the baseline is off, the base is unknown, the runners cannot run elsewhere, or
    nothing in ``results`` could be pre-existing (no base run then).
    """
    kinds = KINDS.get(dimension, frozenset())
    if not kinds or not ctx.settings.baseline.enabled or not isinstance(runners, RelocatableRunners):
        return results
    out = []
    for result in results:
        if result.name in kinds and result.status is EvidenceStatus.FAILED and _candidates(ctx, result):
            result = _against_base(ctx, result.name, result, runners, timeout)
        out.append(result)
    return out


def _against_base(
    ctx: EvidenceContext, kind: str, result: EvidenceResult, runners: RelocatableRunners, timeout: float
) -> EvidenceResult:
    commit = merge_base(ctx)
    if commit is None:
        return result
    try:
        known = base_keys(ctx, kind, commit, _on_base(ctx, kind, runners, timeout))
    except Exception as exc:  # noqa: BLE001 - no baseline: the change's findings stand, as without one
        why = f"aios: the merge base's {kind} could not run, all findings count: {type(exc).__name__}: {exc}"
        return result.model_copy(update={"output_tail": f"{result.output_tail}\n{why}".strip()})
    return _mark(result, [_key(ctx, ctx.worktree, f) in known for f in result.findings])


def _candidates(ctx: EvidenceContext, result: EvidenceResult) -> list[Finding]:
    return [f for f in result.findings if _key(ctx, ctx.worktree, f) is not None]


def _key(ctx: EvidenceContext, folder: Path, f: Finding) -> Key | None:
    """What identifies ``f`` across commits; None for what is never pre-existing (already info)."""
    if f.severity is Severity.INFO or not f.rule or f.rule.endswith(f":{PRE_EXISTING}"):
        return None
    if f.rule == "tests":
        return ("tests", f.file or "", f.message)
    if f.source not in LINT_SOURCES or not f.file or not f.line:
        return None
    text = read_source(folder, f.file)
    lines = text.splitlines() if text is not None else []
    content = " ".join(lines[f.line - 1].split()) if f.line <= len(lines) else ""
    return (f.rule, f.file, content)


def _on_base(
    ctx: EvidenceContext, kind: str, runners: RelocatableRunners, timeout: float
) -> Callable[[Path], set[Key]]:
    return lambda folder: _run_on_base(ctx, kind, runners, folder, timeout)


def _mark(result: EvidenceResult, old: list[bool]) -> EvidenceResult:
    """``result`` with the findings ``old`` flags marked pre-existing; passed when nothing else blocks."""
    findings = [pre_existing(f) if was else f for f, was in zip(result.findings, old, strict=True)]
    count = sum(1 for f in findings if (f.rule or "").endswith(f":{PRE_EXISTING}"))
    if not count:
        return result
    note = f"{count} finding(s) also on the target branch's merge base: pre-existing, not the change's"
    if result.name == "tests":
        return settle(result, findings, note)
    tail = f"{result.output_tail}\naios: {note}".strip()
    return result.model_copy(update={"findings": findings, "output_tail": tail})


def pre_existing(f: Finding) -> Finding:
    """``f`` as the target branch's: info, its rule marked ``:pre-existing``, never blocking."""
    return f.model_copy(
        update={
            "severity": Severity.INFO,
            "rule": f"{f.rule}:{PRE_EXISTING}",
            "message": f"{PRE_EXISTING}: {f.message} (also on the target branch; not the change's doing)",
        }
    )


# ---------------------------------------------------------------- the base's results, cached

_cache_lock = threading.Lock()


def base_keys(ctx: EvidenceContext, kind: str, commit: str, compute: Callable[[Path], set[Key]]) -> set[Key]:
    """The keys of ``kind``'s findings on ``commit``: from the cache, else ``compute(copy of commit)``."""
    name = f"{commit}.{kind}.{_inputs_digest(ctx, kind)}.json"

    def load_or_run() -> set[Key]:
        cached = _read_cache(ctx.baseline_dir, name)
        if cached is not None:
            return cached
        with base_copy(ctx, commit) as folder:
            keys = compute(folder)
        _write_cache(ctx.baseline_dir, name, keys)
        return keys

    return ctx.once(f"baseline:{name}", load_or_run)


def _inputs_digest(ctx: EvidenceContext, kind: str) -> str:
    """What else the base's result depends on: the files and settings of the check."""
    if kind == "tests":
        inputs: object = [list(ctx.test_paths), ctx.settings.completeness.tests.model_dump(mode="json")]
    elif kind == "bandit":
        quality = ctx.settings.quality
        inputs = [ctx.diff.python_files(), quality.bandit.model_dump(mode="json"), quality.ruff.honour_noqa]
    else:
        inputs = [ctx.diff.python_files(), ctx.settings.quality.ruff.model_dump(mode="json")]
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _read_cache(folder: Path | None, name: str) -> set[Key] | None:
    if folder is None:
        return None
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        return {(str(a), str(b), str(c)) for a, b, c in data["keys"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: run the base again


def _write_cache(folder: Path | None, name: str, keys: set[Key]) -> None:
    if folder is None:
        return
    with _cache_lock:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"keys": sorted(keys)}, out)
        os.replace(tmp, folder / name)  # atomic: a reader never sees half a file


@contextlib.contextmanager
def base_copy(ctx: EvidenceContext, commit: str) -> Iterator[Path]:
    """A temporary folder holding ``commit``'s files, its ``.git`` a link to the worktree's git data."""
    archive = git.run(ctx.worktree, "archive", "--format=tar", commit).stdout
    with tempfile.TemporaryDirectory(prefix="aios-base-") as tmp:
        folder = Path(tmp) / ctx.worktree.name
        folder.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        # Runners bind the repository's git data read-only: the copy points at the same data.
        gitdir = git.run(ctx.worktree, "rev-parse", "--absolute-git-dir").stdout.decode().strip()
        (folder / ".git").write_text(f"gitdir: {gitdir}\n")
        yield folder


def _run_on_base(
    ctx: EvidenceContext, kind: str, runners: RelocatableRunners, folder: Path, timeout: float
) -> set[Key]:
    """Run ``kind`` in ``folder`` (the base's files) and key its findings."""
    at = runners.at(folder)
    base_ctx = dataclasses.replace(ctx, worktree=folder, _memo={}, _memo_lock=threading.Lock())
    if kind == "tests":
        # Re-run as on the change's side: a test that is merely flaky on the base is no pre-existing
        # failure, or a real break of that test by the change would hide behind it.
        tests, *_ = run_tests(base_ctx, project_runner(at, timeout), measure=False)
        findings = tests.findings if tests.status is EvidenceStatus.FAILED else []
    elif kind == "bandit":
        findings = _base_bandit(ctx, at, folder, timeout)
    else:
        findings = _base_ruff(ctx, at, folder, timeout)
    return {k for f in findings if (k := _key(base_ctx, folder, f)) is not None}


def _base_ruff(ctx: EvidenceContext, runners: RunnerFactory, folder: Path, timeout: float) -> list[Finding]:
    """Every ruff finding in the base's versions of the changed files (all lines, not only changed)."""
    files = [p for p in ctx.diff.python_files() if (folder / p).is_file()]
    if not files:
        return []
    settings = ctx.settings.quality.ruff
    _, diagnostics, _ = run_ruff(runners(timeout), files, settings=settings, select=settings.select)
    return [
        Finding(
            dimension=Dimension.QUALITY,
            severity=Severity.MINOR,  # any severity but info: only the key is kept
            file=d.file,
            line=d.line,
            rule=d.rule,
            message=d.message,
            source="ruff",
        )
        for d in diagnostics or []
    ]


def _base_bandit(ctx: EvidenceContext, runners: RunnerFactory, folder: Path, timeout: float) -> list[Finding]:
    """Every bandit issue in the base's versions of the changed files (all lines, not only changed)."""
    files = _bandit.regular_files(folder, ctx.diff.python_files())
    if not files:
        return []
    quality = ctx.settings.quality
    _, issues, _ = _bandit.run_bandit(
        runners(timeout), files, settings=quality.bandit, honour_nosec=quality.ruff.honour_noqa
    )
    return [
        Finding(
            dimension=Dimension.QUALITY,
            severity=Severity.MINOR,  # any severity but info: only the key is kept
            file=i.file,
            line=i.line,
            rule=i.rule,
            message=i.message,
            source="bandit",
        )
        for i in issues or []
    ]
