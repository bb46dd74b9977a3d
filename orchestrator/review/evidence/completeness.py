"""Dimension C: the task's tests, coverage of the changed lines, and whether the change touches tests."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestrator.redact import mask_secrets
from orchestrator.review.evidence import _covdriver
from orchestrator.review.evidence._base import (
    Attempt,
    EvidenceContext,
    EvidenceResult,
    EvidenceStatus,
    Runner,
    attempt,
    error_result,
    from_attempt,
    guarded,
    local_result,
    ranges,
    read_report,
    report_folder,
)
from orchestrator.review.evidence._junit import JunitFailure, parse_junit
from orchestrator.review.evidence.testconfig import config_changes_check
from orchestrator.review.findings import Dimension, Finding, Severity

C = Dimension.COMPLETENESS
DRIVER = Path(_covdriver.__file__).resolve()
_FAILED = re.compile(r"^(?:FAILED|ERROR) (?P<node>\S+)(?: - (?P<why>.*))?$", re.M)
# pytest: 0 passed, 1 some failed, 2 interrupted (collection errors), 5 none collected.
_RAN = {0, 1, 2, 5}
_BORROWABLE = ("coverage", "pytest")
"""What the driver may take from aios's own environment when the project's has none."""
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

Coverage = dict[str, dict[str, list[int]]]


def collect_completeness(ctx: EvidenceContext, run: Runner) -> list[EvidenceResult]:
    """Tests (with coverage of the changed lines) and whether the change adds or changes tests."""
    return [
        *guarded("tests", C, lambda: run_tests(ctx, run)),
        *guarded("test-changes", C, lambda: [check_test_changes(ctx)]),
        *guarded("test-config", C, lambda: config_changes_check(ctx)),
    ]


def source_files(ctx: EvidenceContext) -> list[str]:
    """Changed Python files that are not tests: the ones whose changed lines tests should cover."""
    return [p for p in ctx.diff.python_files() if not ctx.is_test(p)]


def run_tests(ctx: EvidenceContext, run: Runner, *, measure: bool = True) -> list[EvidenceResult]:
    """Run the tests; return the ``tests`` result and the ``coverage`` result of the same run.

    Failed tests are run once more (``evidence.baseline.rerun_failed``): one that passes then is
    ``flaky``, reported but not the change's failure. ``measure``: see `run_tests_once`.
    """
    tests, *rest = run_tests_once(ctx, run, measure=measure)
    return [rerun_failed(ctx, run, tests), *rest]


def run_tests_once(ctx: EvidenceContext, run: Runner, *, measure: bool = True) -> list[EvidenceResult]:
    """One run of the tests: the ``tests`` result and the ``coverage`` result of that run.

    Coverage is measured only where it is asked for: ``measure`` (a re-run of failed tests, or the
    merge base's run, reads only the tests' outcome) and ``evidence.completeness.coverage.enabled``.
    Unmeasured, the driver runs pytest without importing coverage or starting its tracer.
    """
    settings = ctx.settings.completeness.tests
    if settings.command is not None:
        att = attempt(run, [*settings.command, *ctx.test_paths])
        tests = _custom_result(ctx, att)
        note = "not measured: a custom test command replaces pytest"
        return [tests, local_result("coverage", C, [], note=note)]
    measure = measure and ctx.settings.completeness.coverage.enabled
    includes = [arg for path in source_files(ctx) if measure for arg in ("--include", path)]
    # Without a setting, `python` is the project's own when it has an environment: the runner
    # for the project's commands puts that environment first on PATH (orchestrator.sandbox.environment).
    python = settings.python or ["python"]
    borrow = [arg for names, at in fallback_modules().items() for arg in ("--fallback", f"{names}={at}")]
    with report_folder(run) as folder:
        report = ["--report", str(folder)] if folder else []
        argv = [*python, str(DRIVER), *includes, *borrow, *report, "--", *settings.pytest_args]
        att = attempt(run, [*argv, *ctx.test_paths])
        reports = _Reports.read(folder) if folder else None
    tests, data = _pytest_result(ctx, att, reports)
    if not measure:
        return [tests, local_result("coverage", C, [], note=_UNMEASURED)]
    if tests.status is EvidenceStatus.ERROR or data is None:
        return [tests, error_result("coverage", C, "the tests did not run", command=att.argv)]
    return [tests, coverage_result(ctx, data)]


_UNMEASURED = "not measured: evidence.completeness.coverage.enabled is false"


FLAKY = "flaky"
"""The marker of a test that failed and then passed on an immediate re-run."""
_NODE_FAILED = re.compile(r"^test (?P<node>.+) (?:fails|errors \(setup or teardown\))$")


def failed_node(finding: Finding) -> str | None:
    """The pytest node id a ``tests`` finding names (None for a collection error or a bare exit)."""
    found = _NODE_FAILED.match(finding.message) if finding.rule == "tests" else None
    return found["node"] if found else None


def rerun_failed(ctx: EvidenceContext, run: Runner, tests: EvidenceResult) -> EvidenceResult:
    """``tests`` with each failure that passes on one re-run of the failed ids marked ``flaky``."""
    settings = ctx.settings.baseline
    nodes = [n for f in tests.findings if (n := failed_node(f))]
    if not settings.rerun_failed or tests.status is not EvidenceStatus.FAILED or not nodes:
        return tests
    rerun = dataclasses.replace(ctx, test_paths=tuple(dict.fromkeys(nodes)))
    again, *_ = run_tests_once(rerun, run, measure=False)  # only the outcome counts here
    if again.status is EvidenceStatus.ERROR:
        return tests  # the re-run proves nothing: the first run's failures stand
    still = {n for f in again.findings if (n := failed_node(f))}
    if any(failed_node(f) is None for f in again.findings):
        return tests  # a failure the re-run cannot tie to a test (exit code only): nothing is flaky
    passed = {n for f in tests.findings if (n := failed_node(f)) and n not in still}
    if not passed:
        return tests
    findings = [_flaky(f, settings.flaky_severity) if failed_node(f) in passed else f for f in tests.findings]
    return settle(tests, findings, f"{len(passed)} failed test(s) passed on an immediate re-run: flaky")


def _flaky(finding: Finding, severity: Severity) -> Finding:
    return finding.model_copy(
        update={
            "severity": severity,
            "rule": f"tests:{FLAKY}",
            "message": f"{FLAKY}: {finding.message}, then passes on an immediate re-run "
            "(not the change's failure)",
        }
    )


def settle(result: EvidenceResult, findings: list[Finding], note: str) -> EvidenceResult:
    """``result`` with ``findings``: passed when none is left that is a failure (rule ``tests``;
    a flaky or pre-existing one is marked ``tests:flaky``, ``tests:pre-existing``)."""
    failing = any(f.rule == "tests" for f in findings)
    status = EvidenceStatus.FAILED if failing else EvidenceStatus.PASSED
    tail = f"{result.output_tail}\naios: {note}".strip()
    return result.model_copy(update={"findings": findings, "status": status, "output_tail": tail})


def _custom_result(ctx: EvidenceContext, att: Attempt) -> EvidenceResult:
    tail = ctx.settings.output_tail_chars
    if att.reason or att.returncode == 0:
        return from_attempt("tests", C, att, tail_chars=tail)
    return from_attempt(
        "tests", C, att, tail_chars=tail, findings=[_failure(ctx, None, f"exit {att.returncode}")]
    )


@dataclasses.dataclass(frozen=True)
class _Reports:
    """What the driver wrote into the report folder (None: a file it did not write, or unreadable)."""

    junit: str | None
    coverage: Coverage | None

    @classmethod
    def read(cls, folder: Path) -> _Reports:
        text = read_report(folder / "coverage.json")
        try:
            data: Any = json.loads(text) if text is not None else None
        except ValueError:
            data = None
        return cls(read_report(folder / "junit.xml"), data if isinstance(data, dict) else None)


def _pytest_result(
    ctx: EvidenceContext, att: Attempt, reports: _Reports | None = None
) -> tuple[EvidenceResult, Coverage | None]:
    tail = ctx.settings.output_tail_chars
    marker = _marker(att.stdout)  # the driver's last line: it ran to its end
    data = reports.coverage if reports is not None and marker is not None else marker
    att = _without_marker(att)
    if att.reason:
        return from_attempt("tests", C, att, tail_chars=tail), None
    why = None
    if att.returncode not in _RAN or marker is None:
        why = _why_error(att)
    elif data is None:
        why = "the test driver wrote no coverage report"
    junit = reports.junit if reports else None
    try:
        findings = [] if why else _test_findings(ctx, att, junit, expected=reports is not None)
    except ValueError as exc:
        why = str(exc)
    if why:
        return from_attempt("tests", C, att, tail_chars=tail, reason=why, status=EvidenceStatus.ERROR), None
    return from_attempt("tests", C, att, tail_chars=tail, findings=findings), data


def _without_marker(att: Attempt) -> Attempt:
    """The attempt with the driver's marker lines cut from stdout: they are data, not output to show.

    Where the tests ran with another interpreter than aios's, or borrowed aios's coverage or
    pytest, a last line says so.
    """
    if att.result is None or _covdriver.MARKER not in att.result.stdout:
        return att
    data = (f"{_covdriver.MARKER} ", f"{_covdriver.MARKER}-ENV ")
    lines = att.result.stdout.splitlines()
    kept = [ln for ln in lines if not ln.startswith(data)]
    env = next((ln.split(" ", 1)[1] for ln in lines if ln.startswith(data[1])), None)
    note = _environment_note(env)
    stdout = "\n".join(kept).rstrip() + (f"\n{note}" if note else "")
    return dataclasses.replace(att, result=dataclasses.replace(att.result, stdout=stdout))


def _environment_note(line: str | None) -> str:
    """``aios: ...`` when the tests ran in the project's environment rather than aios's own."""
    try:
        env: Any = json.loads(line) if line else {}
    except ValueError:
        return ""
    if not isinstance(env, dict):
        return ""
    python, borrowed = str(env.get("python") or ""), list(env.get("borrowed") or [])
    if not borrowed and (not python or os.path.realpath(python) == os.path.realpath(sys.executable)):
        return ""
    note = f"aios: the tests ran with {python}"
    if borrowed:
        note += f"; {' and '.join(borrowed)} came from aios's own environment (the project's has none)"
    return note


@functools.cache
def fallback_modules() -> dict[str, str]:
    """``"name,name": folder`` for the top-level modules of coverage, pytest and their requirements,
    as installed for aios: what the driver may import when the project's environment lacks them."""
    by_folder: dict[str, list[str]] = {}
    for dist in _requirement_closure(_BORROWABLE):
        folder = str(dist.locate_file(""))
        by_folder.setdefault(folder, []).extend(_top_level(dist))
    return {",".join(sorted(set(names))): folder for folder, names in by_folder.items() if names}


def _requirement_closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need (extras left out), ``names`` included."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another Python version, not installed here
        seen[name] = dist
        for req in dist.requires or []:
            found = _REQUIREMENT.match(req)
            if found and "extra ==" not in req.replace('extra=="', 'extra == "'):
                todo.append(found[1])
    return list(seen.values())


def _top_level(dist: metadata.Distribution) -> list[str]:
    """The importable top-level names a distribution installs."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return [n.strip() for n in listed.splitlines() if n.strip()]
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.startswith("..") or first.endswith((".dist-info", ".egg-info", ".pth")):
            continue  # a script in ../../bin, the distribution's own metadata
        names.add(first.removesuffix(".py") if len(file.parts) == 1 else first)
    return sorted(n for n in names if n.isidentifier() and n != "__pycache__")


def _why_error(att: Attempt) -> str:
    lines = [ln for ln in (att.stdout + "\n" + (att.result.stderr if att.result else "")).splitlines() if ln]
    missing = next((ln for ln in lines if ln.startswith(f"{_covdriver.MARKER}-ERROR")), None)
    if missing:
        return missing.removeprefix(f"{_covdriver.MARKER}-ERROR ")
    last = mask_secrets(lines[-1][:200]) if lines else "no output"
    return f"pytest exited with {att.returncode} (internal or usage error): {last}"


def _marker(stdout: str) -> Coverage | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(f"{_covdriver.MARKER} "):
            try:
                data: Any = json.loads(line.split(" ", 1)[1])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _test_findings(ctx: EvidenceContext, att: Attempt, junit: str | None, *, expected: bool) -> list[Finding]:
    """One finding per failure: from the junit report when the driver wrote one (read in full),
    else from the summary lines of the output (runners without a report folder).

    Raises:
        ValueError: a junit report was expected and is missing or unreadable.
    """
    if att.returncode == 5:
        return [_failure(ctx, None, "no tests were collected")]
    if expected:
        if junit is None:
            raise ValueError(f"pytest exited with {att.returncode} and wrote no junit report")
        failed = [_junit_finding(ctx, f) for f in parse_junit(junit)]
    elif att.returncode == 0:
        return []
    else:
        failed = [_failure(ctx, m["node"], m["why"]) for m in _FAILED.finditer(att.stdout)]
    failed = failed[: ctx.settings.completeness.tests.max_listed_failures]
    if att.returncode == 0:
        return failed  # a report listing failures with exit 0 still counts them
    return failed or [_failure(ctx, None, f"pytest exited with {att.returncode}")]


_SHOWN_CHARS = 2000
"""How much of one failure's message a finding keeps (the report is read whole; the finding is shown)."""


def _junit_finding(ctx: EvidenceContext, failure: JunitFailure) -> Finding:
    if failure.kind != "collection":
        found = _failure(ctx, failure.node, None)
        verb = "fails" if failure.kind == "failed" else "errors (setup or teardown)"
        message = f"test {failure.node} {verb}"
    else:
        found = _failure(ctx, failure.file, None)
        message = f"the tests in {failure.node} cannot be collected (an import or syntax error)"
    why = mask_secrets(failure.message)
    if len(why) > _SHOWN_CHARS:
        why = why[:_SHOWN_CHARS] + f"\n[... {len(why) - _SHOWN_CHARS} more characters]"
    return found.model_copy(update={"message": message, "suggestion": why or None})


def _failure(ctx: EvidenceContext, node: str | None, why: str | None) -> Finding:
    file = node.split("::", 1)[0] if node else None
    if file and not (ctx.diff.get(file) or (ctx.worktree / file).is_file()):
        file = None  # a node id that is not a repository file (a package, a plugin)
    return Finding(
        dimension=C,
        severity=ctx.settings.completeness.tests.failed_severity,
        file=file,
        rule="tests",
        message=f"test {node} fails" if node else f"the tests fail: {why}",
        suggestion=mask_secrets(why)[:300] if node and why else None,
        source="pytest",
    )


def coverage_result(ctx: EvidenceContext, data: Coverage) -> EvidenceResult:
    """Coverage of the changed executable lines of the changed source files."""
    uncovered: dict[str, list[int]] = {}
    total = 0
    for path in source_files(ctx):
        fd, entry = ctx.diff.get(path), data.get(path)
        if fd is None or entry is None:
            continue
        changed = fd.changed_lines & set(entry["statements"])
        total += len(changed)
        if missing := sorted(changed & set(entry["missing"])):
            uncovered[path] = missing
    return _coverage_verdict(ctx, uncovered, total)


def _coverage_verdict(ctx: EvidenceContext, uncovered: dict[str, list[int]], total: int) -> EvidenceResult:
    if total == 0:
        return local_result("coverage", C, [], note="no executable changed lines")
    covered = total - sum(len(v) for v in uncovered.values())
    settings = ctx.settings.completeness.coverage
    share = covered / total
    note = f"changed lines covered: {covered}/{total} ({share:.0%}; minimum {settings.min_changed:.0%})"
    if share >= settings.min_changed:
        return local_result("coverage", C, [], note=note)
    findings = [
        Finding(
            dimension=C,
            severity=settings.severity,
            file=path,
            line=lines[0],
            rule="coverage",
            message=f"changed lines not covered by any test: {ranges(lines)}",
            source="coverage",
        )
        for path, lines in uncovered.items()
    ]
    return local_result("coverage", C, findings, note=note)


def check_test_changes(ctx: EvidenceContext) -> EvidenceResult:
    """Whether the change adds or changes any test file (when it changes source code)."""
    if not source_files(ctx):
        return local_result("test-changes", C, [], note="no Python source changed")
    touched = [f.path for f in ctx.diff if ctx.is_test(f.path)]
    if touched:
        return local_result("test-changes", C, [], note="tests changed: " + ", ".join(touched))
    finding = Finding(
        dimension=C,
        severity=ctx.settings.completeness.no_tests_severity,
        rule="no-tests",
        message="the change adds or changes no tests",
        suggestion="add tests that exercise the new behaviour",
        source="diff",
    )
    return local_result("test-changes", C, [finding])
