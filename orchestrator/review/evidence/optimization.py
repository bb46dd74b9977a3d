"""Dimension O: complexity of the changed functions, blocks the change duplicates, size of the change."""

from __future__ import annotations

import ast
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.review.diff import Diff, FileDiff
from orchestrator.review.evidence._base import (
    EvidenceContext,
    EvidenceResult,
    EvidenceStatus,
    Runner,
    from_attempt,
    guarded,
    local_result,
    read_source,
    source_at,
)
from orchestrator.review.evidence._ruff import Diagnostic, run_ruff
from orchestrator.review.evidence.baseline import pre_existing
from orchestrator.review.evidence.precision import function_complexities, import_lines, qualified_name_at
from orchestrator.review.findings import Dimension, Finding
from orchestrator.review.settings import DuplicationSettings

O = Dimension.OPTIMIZATION  # noqa: E741 - the dimension's letter, like Q, R and C
_SKIP_DIRS = {"node_modules", "__pycache__", "venv", "env", "build", "dist", "site-packages"}
_TRIVIAL = {
    "else:",
    "try:",
    "pass",
    "return",
    "finally:",
    "break",
    "continue",
    '"""',
    "'''",
    "),",
    "],",
    "},",
}


def collect_optimization(ctx: EvidenceContext, run: Runner) -> list[EvidenceResult]:
    """Complexity, duplication and size evidence for the change."""
    return [
        *guarded("complexity", O, lambda: [complexity_check(ctx, run)]),
        *guarded("duplication", O, lambda: [duplication_check(ctx)]),
        *guarded("size", O, lambda: [size_check(ctx)]),
    ]


# ---------------------------------------------------------------- complexity


def complexity_check(ctx: EvidenceContext, run: Runner) -> EvidenceResult:
    """Ruff ``C901`` over the changed files, kept to functions the change touched.

    A function over the limit on the target branch already and not made more complex is the
    branch's: reported as ``C901:pre-existing`` (info), never blocking.
    """
    files = ctx.diff.python_files()
    if not files:
        return local_result("complexity", O, [], note="no Python files changed")
    settings = ctx.settings.optimization.complexity
    config = [f"lint.mccabe.max-complexity = {settings.max}"]
    ruff = ctx.settings.quality.ruff.model_copy(update={"ignore": [], "per_file_ignores": {}})
    att, diagnostics, why = run_ruff(run, files, settings=ruff, select=["C901"], config=config)
    tail = ctx.settings.output_tail_chars
    if diagnostics is None:
        return from_attempt("complexity", O, att, tail_chars=tail, reason=why, status=EvidenceStatus.ERROR)
    # ruff reports a syntax error under any selection: it is Q's finding (``invalid-syntax``), once.
    touched = [d for d in diagnostics if d.rule == "C901" and _touches_function(ctx, d)]
    raised = [d for d in touched if _raised_by_change(ctx, d)]
    old = [pre_existing(_complexity_finding(ctx, d)) for d in touched if d not in raised]
    findings = [_complexity_finding(ctx, d) for d in raised]
    kept = len(old)
    note = f"{kept} function(s) over the limit on the target branch already, not made more complex"
    status = EvidenceStatus.FAILED if findings else EvidenceStatus.PASSED
    findings += old  # shown as info beside the rest; they never block
    return from_attempt(
        "complexity", O, att, tail_chars=tail, findings=findings, reason=note if kept else None, status=status
    )


def _raised_by_change(ctx: EvidenceContext, d: Diagnostic) -> bool:
    """False when the function was over the limit before the change and is not more complex now.

    Without the target branch's version (no base commit, a new file or function) the change made it.
    """
    head = read_source(ctx.worktree, d.file)
    fd = ctx.diff.get(d.file)
    name = qualified_name_at(head, d.line) if head else None
    if ctx.base is None or head is None or name is None or fd is None:
        return True
    before = source_at(ctx.worktree, ctx.base, fd.old_path or d.file)
    old = function_complexities(before).get(name) if before is not None else None
    limit = ctx.settings.optimization.complexity.max
    return old is None or old <= limit or function_complexities(head)[name] > old


def _touches_function(ctx: EvidenceContext, d: Diagnostic) -> bool:
    fd = ctx.diff.get(d.file)
    if fd is None:
        return False
    end = function_end(ctx.worktree, d.file, d.line) or d.line
    return any(n in fd.changed_lines for n in range(d.line, end + 1))


def function_end(worktree: Path, rel: str, def_line: int) -> int | None:
    """Last line of the function defined at ``def_line`` in ``rel`` (parsed, never executed)."""
    text = read_source(worktree, rel)
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    funcs = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    return next((n.end_lineno for n in funcs if n.lineno == def_line), None)


def _complexity_finding(ctx: EvidenceContext, d: Diagnostic) -> Finding:
    return Finding(
        dimension=O,
        severity=ctx.settings.optimization.complexity.severity,
        file=d.file,
        line=d.line,
        rule="C901",
        message=d.message,
        suggestion="split it into smaller functions with one job each",
        source="ruff",
    )


# ---------------------------------------------------------------- duplication


@dataclass(frozen=True)
class _Lines:
    """A file's significant lines: normalised text and original line numbers."""

    path: str
    text: list[str]
    numbers: list[int]


def duplication_check(ctx: EvidenceContext) -> EvidenceResult:
    """Blocks of ``min_lines`` significant lines the change added that also exist elsewhere.

    Only non-test Python files count, on either side of the comparison.
    """
    start = time.perf_counter()
    settings = ctx.settings.optimization.duplication
    targets = [_significant(p, read_source(ctx.worktree, p)) for p in _target_files(ctx)]
    targets = [t for t in targets if len(t.text) >= settings.min_lines]
    if not targets:
        return local_result("duplication", O, [], note="no changed source block long enough to compare")
    wanted = {
        _window(t, i, settings.min_lines) for t in targets for i in _changed_windows(t, ctx.diff, settings)
    }
    index = _index(ctx, wanted, settings.min_lines, settings.max_files)
    findings = [f for t in targets for f in _duplicates(ctx, t, index)]
    return local_result("duplication", O, findings, duration_s=time.perf_counter() - start)


def _target_files(ctx: EvidenceContext) -> list[str]:
    # Tests repeat set-up code by nature; only source files are judged (and indexed) for copies.
    return [p for p in ctx.diff.python_files() if not ctx.is_test(p)]


def _significant(path: str, text: str | None) -> _Lines:
    lines = _Lines(path, [], [])
    raw_lines = (text or "").splitlines()
    imports = import_lines(raw_lines)  # every line of ``from x import (\n a,\n b,\n)`` too
    for number, raw in enumerate(raw_lines, start=1):
        norm = " ".join(raw.split())
        if len(norm) < 4 or number in imports or norm.startswith("#") or norm in _TRIVIAL:
            continue  # too common to mean a copy: blank lines, comments, imports, brackets
        lines.text.append(norm)
        lines.numbers.append(number)
    return lines


def _window(lines: _Lines, i: int, size: int) -> int:
    return hash(tuple(lines.text[i : i + size]))


def _changed_windows(lines: _Lines, diff: Diff, settings: DuplicationSettings) -> Iterator[int]:
    size = settings.min_lines
    changed = _changed(diff.get(lines.path))
    for i in range(len(lines.text) - size + 1):
        if any(n in changed for n in lines.numbers[i : i + size]):
            yield i


def _changed(fd: FileDiff | None) -> frozenset[int]:
    return fd.changed_lines if fd else frozenset()


def _index(
    ctx: EvidenceContext, wanted: set[int], size: int, max_files: int
) -> dict[int, list[tuple[str, int]]]:
    """Where each wanted window hash occurs in the repository: ``{hash: [(path, line), ...]}``."""
    index: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for path in _python_files(ctx.worktree, max_files):
        if ctx.is_test(path):
            continue
        lines = _significant(path, read_source(ctx.worktree, path))
        for i in range(len(lines.text) - size + 1):
            if (h := _window(lines, i, size)) in wanted:
                index[h].append((path, lines.numbers[i]))
    return index


def _python_files(root: Path, limit: int) -> Iterator[str]:
    count = 0
    for folder, dirs, files in os.walk(root):
        # Hidden folders (.git, .venv, .tox) and environments hold code that is not the project's.
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS]
        for name in files:
            if name.endswith(".py"):
                count += 1
                if count > limit:
                    return
                yield Path(folder, name).relative_to(root).as_posix()


def _duplicates(
    ctx: EvidenceContext, lines: _Lines, index: dict[int, list[tuple[str, int]]]
) -> list[Finding]:
    settings = ctx.settings.optimization.duplication
    size = settings.min_lines
    hits: dict[int, tuple[str, int]] = {}
    for i in _changed_windows(lines, ctx.diff, settings):
        here = lines.numbers[i]
        others = [
            o
            for o in index.get(_window(lines, i, size), [])
            if o[0] != lines.path or abs(o[1] - here) >= size
        ]
        if others:
            hits[i] = min(others)
    return [_dup_finding(ctx, lines, first, last, hits[first]) for first, last in _blocks(hits, size)]


def _blocks(hits: dict[int, tuple[str, int]], size: int) -> Iterator[tuple[int, int]]:
    """Merge overlapping duplicate windows into (first window, last significant index) blocks."""
    first = last = None
    for i in sorted(hits):
        if first is not None and last is not None and i <= last + 1:
            last = i + size - 1
            continue
        if first is not None and last is not None:
            yield first, last
        first, last = i, i + size - 1
    if first is not None and last is not None:
        yield first, last


def _dup_finding(
    ctx: EvidenceContext, lines: _Lines, first: int, last: int, other: tuple[str, int]
) -> Finding:
    start, end = lines.numbers[first], lines.numbers[last]
    return Finding(
        dimension=O,
        severity=ctx.settings.optimization.duplication.severity,
        file=lines.path,
        line=start,
        rule="duplication",
        message=f"lines {start}-{end} duplicate code at {other[0]}:{other[1]}",
        suggestion="reuse the existing code or extract a shared function",
        source="duplication",
    )


# ---------------------------------------------------------------- size


def size_check(ctx: EvidenceContext) -> EvidenceResult:
    """Added plus removed lines against the configured maximum."""
    settings = ctx.settings.optimization.size
    changed = ctx.diff.added + ctx.diff.removed
    note = f"{changed} changed lines in {len(ctx.diff.files)} files (maximum {settings.max_changed_lines})"
    if changed <= settings.max_changed_lines:
        return local_result("size", O, [], note=note)
    finding = Finding(
        dimension=O,
        severity=settings.severity,
        rule="size",
        message=f"the change is large: {changed} changed lines, above {settings.max_changed_lines}",
        suggestion="split the task into smaller changes that can be reviewed one by one",
        source="diff",
    )
    return local_result("size", O, [finding], note=note)
