"""O: complexity of the functions the change touched, copied blocks, and the change's size."""

from __future__ import annotations

from pathlib import Path

from helpers import plain_runner

from orchestrator.review.diff import git_diff
from orchestrator.review.evidence import EvidenceContext, EvidenceStatus
from orchestrator.review.evidence.optimization import complexity_check, duplication_check, size_check
from orchestrator.review.settings import EvidenceSettings

from ..sample import SampleRepo
from .fakes import NEW_FILE, ctx_for


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


def test_a_syntax_error_is_no_complexity_finding(sample_repo: SampleRepo) -> None:
    """ruff reports a syntax error under any selection: it is Q's finding, not a second one in O."""
    first = sample_repo.commit({"app/calc.py": "X = 1\n"})
    second = sample_repo.commit({"app/calc.py": "def half(x):\n    return x /\n"})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second))
    result = complexity_check(ctx, plain_runner(sample_repo.path, 30))
    assert result.findings == []
    assert result.status is EvidenceStatus.PASSED


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
