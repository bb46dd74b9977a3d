"""Evidence collectors one by one, with fake runners where the tool's behaviour is the point."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.redact import mask_secrets
from orchestrator.review import evidence as ev
from orchestrator.review.diff import git_diff, parse_diff
from orchestrator.review.evidence import (
    EvidenceContext,
    EvidenceStatus,
    collect_dimension,
    gather_evidence,
    render_evidence,
)
from orchestrator.review.evidence.completeness import coverage_result, run_tests
from orchestrator.review.evidence.optimization import complexity_check, duplication_check, size_check
from orchestrator.review.evidence.quality import ruff_check, secrets_check
from orchestrator.review.evidence.requirements import collect_requirements
from orchestrator.review.findings import Dimension, Severity
from orchestrator.review.settings import EvidenceSettings
from orchestrator.sandbox.bwrap import CommandResult
from orchestrator.state.taskcard import Criterion

from .sample import OPENAI_KEY, SampleRepo

ANTHROPIC_KEY = (
    "sk-" + "ant-api03-" + "Ab3_dE-fG7hIjKlMn0pQ_rStUvWx-yZ12345_6789abcDEF-ghIJKLmnop_QRST-uvwxAA"
)

NEW_FILE = parse_diff(
    "diff --git a/app/x.py b/app/x.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/x.py\n"
    "@@ -0,0 +1,3 @@\n+import os\n+x = 1\n+y = 2\n"
)


def fake(
    stdout: str = "", returncode: int | None = 0, stderr: str = "", timed_out: bool = False
) -> Callable[[Sequence[str]], CommandResult]:
    def run(argv: Sequence[str]) -> CommandResult:
        return CommandResult(tuple(argv), returncode, stdout, stderr, 0.01, timed_out=timed_out)

    return run


def ctx_for(worktree: Path, diff=NEW_FILE, **kwargs) -> EvidenceContext:
    return EvidenceContext(worktree, diff, EvidenceSettings(), **kwargs)


def ruff_line(rule: str, row: int, path: str = "/wt/app/x.py") -> str:
    loc = {"row": row, "column": 1}
    return json.dumps(
        {"code": rule, "filename": path, "location": loc, "end_location": loc, "message": "msg"}
    )


# ---------------------------------------------------------------- Q


def test_ruff_diagnostics_become_findings_on_changed_lines_only(tmp_path: Path) -> None:
    stdout = "\n".join([ruff_line("F401", 1), ruff_line("S608", 3), ruff_line("S608", 9)])
    result = ruff_check(ctx_for(tmp_path), fake(stdout))
    assert result.status is EvidenceStatus.FAILED
    assert [(f.file, f.line, f.rule, f.severity) for f in result.findings] == [
        ("app/x.py", 1, "F401", Severity.MINOR),
        ("app/x.py", 3, "S608", Severity.CRITICAL),
    ]
    assert "--isolated" in (result.command or []) and "--ignore-noqa" in (result.command or [])


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (fake('"code": "F401", "filename"}\n'), "could not be read"),  # the tail of a capped output
        (fake("", returncode=2, stderr="ruff: bad config"), "ruff exited with 2"),
        (fake("", returncode=127, stderr="aios: command not found: 'ruff'"), "could not start `ruff`"),
        (fake("", returncode=None, timed_out=True), "timed out"),
    ],
)
def test_ruff_that_cannot_run_or_be_read_is_an_error(tmp_path: Path, run, reason: str) -> None:
    result = ruff_check(ctx_for(tmp_path), run)
    assert result.status is EvidenceStatus.ERROR
    assert reason in (result.reason or "")
    assert result.findings == []


def test_our_key_detector_catches_what_detect_secrets_filters_out(tmp_path: Path) -> None:
    diff = parse_diff(
        "diff --git a/c.py b/c.py\nnew file mode 100644\n--- /dev/null\n+++ b/c.py\n@@ -0,0 +1,2 @@\n"
        f'+client = make("{OPENAI_KEY}")\n+other = make(key="{ANTHROPIC_KEY}")\n'
    )
    (tmp_path / "c.py").write_text(f'client = make("{OPENAI_KEY}")\nother = make(key="{ANTHROPIC_KEY}")\n')
    result = secrets_check(ctx_for(tmp_path, diff), plain_runner(tmp_path, 30))
    assert [(f.line, f.rule, f.severity) for f in result.findings] == [
        (1, "secret", Severity.CRITICAL),
        (2, "secret", Severity.CRITICAL),
    ]
    assert "OpenAI Project Key" in result.findings[0].message
    assert "Anthropic API Key" in result.findings[1].message


def test_secrets_never_reach_output_tails(tmp_path: Path) -> None:
    leaky = fake(json.dumps({"results": {}}) + f"\ndebug: key={OPENAI_KEY} other={ANTHROPIC_KEY}")
    result = secrets_check(ctx_for(tmp_path), leaky)
    assert result.status is EvidenceStatus.ERROR  # not JSON any more: never a silent pass
    assert OPENAI_KEY not in result.output_tail and ANTHROPIC_KEY not in result.output_tail
    assert "sk-proj-****" in result.output_tail and "sk-ant-api03-****" in result.output_tail


def test_mask_secrets() -> None:
    text = f"a {OPENAI_KEY} b AKIAIOSFODNN7EXAMPLE c ghp_{'x' * 36}\n-----BEGIN RSA PRIVATE KEY-----\nabc\n"
    masked = mask_secrets(text)
    assert masked.startswith("a sk-proj-**** b AKIA**** c ghp_****")
    assert "abc" not in masked


# ---------------------------------------------------------------- R


def test_acceptance_checks_pass_fail_and_unchecked(tmp_path: Path) -> None:
    criteria = [
        Criterion(id="AC1", text="passes", check="true"),
        Criterion(id="AC2", text="fails", check="python -c 'import sys; sys.exit(\"nope\")'"),
        Criterion(id="AC3", text="needs judgement"),
    ]
    results = collect_requirements(ctx_for(tmp_path, criteria=criteria), plain_runner(tmp_path, 10))
    status = {r.name: r.status for r in results}
    assert status == {
        "acceptance:AC1": EvidenceStatus.PASSED,
        "acceptance:AC2": EvidenceStatus.FAILED,
        "acceptance:unchecked": EvidenceStatus.PASSED,
    }
    failed = results[1]
    assert failed.output_tail == "nope"
    assert failed.findings[0].rule == "acceptance:AC2" and "exited with 1" in (
        failed.findings[0].suggestion or ""
    )
    assert results[2].findings[0].severity is Severity.INFO


def test_a_check_whose_command_is_missing_is_an_error(tmp_path: Path) -> None:
    criteria = [Criterion(id="AC1", text="t", check="no-such-tool --check")]
    [result] = collect_requirements(ctx_for(tmp_path, criteria=criteria), plain_runner(tmp_path, 10))
    assert result.status is EvidenceStatus.ERROR and "exit 127" in (result.reason or "")


def test_an_unparsable_check_is_an_error(tmp_path: Path) -> None:
    criteria = [Criterion(id="AC1", text="t", check="pytest 'unbalanced")]
    [result] = collect_requirements(ctx_for(tmp_path, criteria=criteria), fake())
    assert result.status is EvidenceStatus.ERROR and "cannot parse" in (result.reason or "")


def test_checks_run_through_a_shell_when_configured(tmp_path: Path) -> None:
    settings = EvidenceSettings.model_validate({"requirements": {"shell": ["sh", "-c"]}})
    criteria = [Criterion(id="AC1", text="t", check="true && echo piped | tr a-z A-Z")]
    ctx = EvidenceContext(tmp_path, NEW_FILE, settings, criteria)
    [result] = collect_requirements(ctx, plain_runner(tmp_path, 10))
    assert result.status is EvidenceStatus.PASSED and result.output_tail == "PIPED"


# ---------------------------------------------------------------- C


def _pytest_output(text: str, returncode: int, coverage: dict | None = None):
    marker = f"\nAIOS-COVERAGE {json.dumps(coverage or {})}" if coverage is not None else ""
    return fake(text + marker, returncode)


def test_failing_tests_are_listed_one_finding_each(tmp_path: Path) -> None:
    out = "FAILED tests/test_a.py::test_one - AssertionError: boom\nERROR tests/test_b.py::test_two\n1 failed"
    tests, coverage = run_tests(ctx_for(tmp_path), _pytest_output(out, 1, {}))
    assert tests.status is EvidenceStatus.FAILED
    assert [f.message for f in tests.findings] == [
        "test tests/test_a.py::test_one fails",
        "test tests/test_b.py::test_two fails",
    ]
    assert tests.findings[0].suggestion == "AssertionError: boom"
    assert "AIOS-COVERAGE" not in tests.output_tail
    assert coverage.status is EvidenceStatus.PASSED


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (
            _pytest_output("AIOS-COVERAGE-ERROR cannot import coverage: install coverage and pytest", 3),
            "coverage",
        ),
        (_pytest_output("ERROR: file or directory not found: tests/x.py", 4, {}), "exited with 4"),
        (_pytest_output("1 passed", 0), "exited with 0"),  # no marker: not our driver's output
    ],
)
def test_tests_that_cannot_run_are_errors(tmp_path: Path, run, reason: str) -> None:
    tests, coverage = run_tests(ctx_for(tmp_path), run)
    assert tests.status is EvidenceStatus.ERROR and reason in (tests.reason or "")
    assert coverage.status is EvidenceStatus.ERROR


def test_no_tests_collected_fails(tmp_path: Path) -> None:
    tests, _ = run_tests(ctx_for(tmp_path), _pytest_output("no tests ran", 5, {}))
    assert tests.status is EvidenceStatus.FAILED
    assert tests.findings[0].message == "the tests fail: no tests were collected"


def test_coverage_of_changed_lines(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)  # app/x.py lines 1-3 changed
    full = coverage_result(ctx, {"app/x.py": {"statements": [1, 2, 3], "missing": []}})
    assert full.status is EvidenceStatus.PASSED and "3/3" in full.output_tail
    low = coverage_result(ctx, {"app/x.py": {"statements": [1, 2, 3, 9], "missing": [2, 3, 9]}})
    assert low.status is EvidenceStatus.FAILED
    [finding] = low.findings
    assert (finding.file, finding.line, finding.message) == (
        "app/x.py",
        2,
        "changed lines not covered by any test: 2-3",
    )


def test_a_custom_test_command(tmp_path: Path) -> None:
    settings = EvidenceSettings.model_validate(
        {"completeness": {"tests": {"command": ["sh", "-c", "exit 1"]}}}
    )
    ctx = EvidenceContext(tmp_path, NEW_FILE, settings)
    tests, coverage = run_tests(ctx, plain_runner(tmp_path, 10))
    assert tests.status is EvidenceStatus.FAILED
    assert coverage.status is EvidenceStatus.PASSED and "not measured" in coverage.output_tail


# ---------------------------------------------------------------- O


def _complex(name: str) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(12))
    return f"def {name}(x):\n{body}    return -1\n"


def test_complexity_only_for_functions_the_change_touched(sample_repo: SampleRepo) -> None:
    first = sample_repo.commit({"app/calc.py": _complex("old") + "\n\n" + _complex("new")})
    text = _complex("old") + "\n\n" + _complex("new").replace("return -1", "return -2")
    second = sample_repo.commit({"app/calc.py": text})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second))
    result = complexity_check(ctx, plain_runner(sample_repo.path, 30))
    assert [(f.line, f.rule, f.message) for f in result.findings] == [
        (text.splitlines().index("def new(x):") + 1, "C901", "`new` is too complex (13 > 10)")
    ]


BLOCK = "".join(f"    total = total + values[{i}] * {i + 2}\n" for i in range(8))


def test_a_copied_block_is_reported_where_it_was_pasted(sample_repo: SampleRepo) -> None:
    existing = f"def first(values):\n    total = 0\n{BLOCK}    return total\n"
    first = sample_repo.commit({"app/stats.py": existing})
    pasted = f"X = 1\n\n\ndef second(values):\n    total = 0\n{BLOCK}    return total\n"
    second = sample_repo.commit({"app/more.py": pasted, "tests/test_more.py": pasted})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second))
    result = duplication_check(ctx)
    [finding] = result.findings  # the test file's copy is not judged
    assert (finding.file, finding.line, finding.rule) == ("app/more.py", 5, "duplication")
    assert finding.message == "lines 5-14 duplicate code at app/stats.py:2"


def test_size_threshold(tmp_path: Path) -> None:
    assert size_check(ctx_for(tmp_path)).status is EvidenceStatus.PASSED
    settings = EvidenceSettings.model_validate({"optimization": {"size": {"max_changed_lines": 2}}})
    result = size_check(EvidenceContext(tmp_path, NEW_FILE, settings))
    assert result.findings[0].message == "the change is large: 3 changed lines, above 2"


# ---------------------------------------------------------------- gathering


def test_dimensions_are_gathered_concurrently(tmp_path: Path) -> None:
    def slow(timeout_s: float):
        def run(argv):
            time.sleep(0.3)
            return CommandResult(tuple(argv), 127, "", "nope", 0.3)

        return run

    criteria = [Criterion(id="AC1", text="t", check="true")]
    ctx = ctx_for(tmp_path, criteria=criteria)
    start = time.perf_counter()
    results = gather_evidence(ctx, slow)
    elapsed = time.perf_counter() - start
    # Q and O run two commands each, one after another: 0.6 s concurrently against 1.5 s in sequence.
    assert elapsed < 1.1
    assert {r.dimension for r in results if r.status is EvidenceStatus.ERROR} == set(Dimension)


def test_each_dimension_gets_its_own_time_limit(tmp_path: Path) -> None:
    seen: list[float] = []

    def record(timeout_s: float):
        seen.append(timeout_s)
        return fake("", 127)

    gather_evidence(ctx_for(tmp_path), record, concurrent=False)
    assert seen == [60.0, 120.0, 300.0, 60.0]


def test_a_crashing_collector_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx, run):
        raise RuntimeError("bug")

    monkeypatch.setitem(ev.COLLECTORS, Dimension.OPTIMIZATION, boom)
    [result] = collect_dimension(ctx_for(tmp_path), Dimension.OPTIMIZATION, lambda t: fake())
    assert result.status is EvidenceStatus.ERROR and "RuntimeError: bug" in (result.reason or "")


def test_render_evidence_for_a_prompt(tmp_path: Path) -> None:
    result = ruff_check(ctx_for(tmp_path), fake(ruff_line("S608", 3)))
    text = render_evidence([result])
    assert text.splitlines()[:2] == [
        "[Q] ruff: FAILED",
        "  - critical app/x.py:3 S608: msg",
    ]


NESTED_DIFF = """\
diff --git a/lib b/lib
new file mode 160000
index 0000000..1111111
--- /dev/null
+++ b/lib
@@ -0,0 +1 @@
+Subproject commit 1111111111111111111111111111111111111111
diff --git a/old b/old
deleted file mode 160000
index 2222222..0000000
--- a/old
+++ /dev/null
@@ -1 +0,0 @@
-Subproject commit 2222222222222222222222222222222222222222
diff --git a/pkg/.GIT/config b/pkg/.GIT/config
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/pkg/.GIT/config
@@ -0,0 +1 @@
+[filter "pwn"]
diff --git a/app.py b/app.py
new file mode 100644
index 0000000..4444444
--- /dev/null
+++ b/app.py
@@ -0,0 +1 @@
+x = 1
"""


def test_a_gitlink_or_dot_git_path_added_by_the_change_is_a_critical_security_finding() -> None:
    from orchestrator.review.evidence.quality import nested_git_check
    from orchestrator.review.policy import decide

    diff = parse_diff(NESTED_DIFF)
    assert [fd.path for fd in diff.present()] == ["pkg/.GIT/config", "app.py"]  # a gitlink is no file
    [result] = nested_git_check(diff)
    assert [(f.file, f.severity.value, f.rule) for f in result.findings] == [
        ("lib", "critical", "nested-git"),
        ("pkg/.GIT/config", "critical", "nested-git"),
    ]
    assert "gitlink" in result.findings[0].message and "a .git path" in result.findings[1].message
    assert decide(result.findings, [result]).verdict.value == "NEEDS_REVISION"
    removed = "diff --git a/old" + NESTED_DIFF.split("diff --git a/old")[1].split("diff --git a/pkg")[0]
    assert nested_git_check(parse_diff(removed)) == []  # removing a gitlink is fine, and not reported


# --- one command runner ---------------------------------------------------------------------------


def test_the_test_runner_is_the_sandbox_runner_without_bubblewrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_TEST_LEAK", "caller-only")
    code = "import os; print(os.environ.get('AIOS_TEST_LEAK'))"
    result = plain_runner(tmp_path, 10)(["python", "-c", code])
    # run_command's marks: unsandboxed, and the clean environment it gives every command.
    assert (result.ok, result.sandboxed, result.stdout) == (True, False, "None\n")


def test_the_review_layer_starts_no_process_of_its_own() -> None:
    """Evidence commands go through an injected runner (`run_command`), never a runner of their own."""
    review = Path(ev.__file__).resolve().parents[1]
    starts = re.compile(r"^\s*(import|from)\s+subprocess\b|\bos\.(system|popen|exec\w*|spawn\w*)\(", re.M)
    assert [p.relative_to(review) for p in review.rglob("*.py") if starts.search(p.read_text())] == []
