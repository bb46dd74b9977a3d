"""Failures are read whole from pytest's junit report: ids with spaces, collection errors, long messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review.diff import parse_diff
from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.evidence._junit import parse_junit
from orchestrator.review.evidence.completeness import run_tests

from .fakes import ctx_for

LONG = "x" * 5000
TESTS = f'''import pytest


@pytest.mark.parametrize("name", ["a b", "c  d"])
def test_spaces(name):
    assert name == "zz"


class TestGroup:
    def test_long(self):
        assert "{LONG}" == "y", "the whole message"

    def test_ok(self):
        pass
'''
NOISY = "import sys\n\n\ndef test_noise():\n    sys.stdout.write('n' * 200_000)\n    assert False, 'late'\n"


def diff_of(*paths: str):
    head = "diff --git a/{0} b/{0}\nnew file mode 100644\n--- /dev/null\n+++ b/{0}\n@@ -0,0 +1 @@\n+x\n"
    text = "".join(head.format(p) for p in paths)
    return parse_diff(text)


def run_in(tmp_path: Path, files: dict[str, str]):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ctx = ctx_for(tmp_path, diff=diff_of(*files))
    tests, _ = run_tests(ctx, plain_runner(tmp_path, 120))
    return tests


def test_parametrized_ids_with_spaces_and_class_tests_are_named_whole(tmp_path: Path) -> None:
    tests = run_in(tmp_path, {"tests/test_a.py": TESTS})
    assert tests.status is EvidenceStatus.FAILED
    assert [f.message for f in tests.findings] == [
        "test tests/test_a.py::test_spaces[a b] fails",
        "test tests/test_a.py::test_spaces[c  d] fails",
        "test tests/test_a.py::TestGroup::test_long fails",
    ]
    assert {f.file for f in tests.findings} == {"tests/test_a.py"}
    long = tests.findings[2].suggestion or ""
    assert "the whole message" in long and "more characters]" in long and len(long) < 2100


def test_a_module_that_cannot_be_imported_is_a_collection_error(tmp_path: Path) -> None:
    files = {"tests/test_ok.py": "def test_ok():\n    pass\n", "tests/test_bad.py": "import nowhere_at_all\n"}
    tests = run_in(tmp_path, files)
    [finding] = tests.findings
    assert finding.message == "the tests in tests/test_bad.py cannot be collected (an import or syntax error)"
    assert finding.file == "tests/test_bad.py" and "nowhere_at_all" in (finding.suggestion or "")


def test_failures_after_200_kb_of_output_are_still_found(tmp_path: Path) -> None:
    tests = run_in(tmp_path, {"tests/test_noise.py": NOISY})
    [finding] = tests.findings
    assert finding.message == "test tests/test_noise.py::test_noise fails"
    assert "late" in (finding.suggestion or "")


@pytest.mark.parametrize("text", ["", "<testsuites><testsuite>", "<html/>"])
def test_a_cut_or_foreign_report_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="junit report"):
        parse_junit(text)


def test_an_error_in_setup_is_not_called_a_failure() -> None:
    xml = (
        '<testsuites><testsuite><testcase classname="tests.test_a" name="test_x" file="tests/test_a.py">'
        '<error message="failed on setup with &quot;boom&quot;">trace</error>'
        "</testcase></testsuite></testsuites>"
    )
    [failure] = parse_junit(xml)
    assert (failure.node, failure.kind) == ("tests/test_a.py::test_x", "error")
    assert failure.message == 'failed on setup with "boom"\ntrace'
