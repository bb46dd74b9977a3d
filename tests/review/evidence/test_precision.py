"""Precision rules: random in tests, complexity the change raised, noqa as info, one finding per
syntax error, PEP 263 encodings, pinned hashes, multi-line imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review.diff import git_diff
from orchestrator.review.evidence._base import read_source
from orchestrator.review.evidence.optimization import complexity_check, duplication_check
from orchestrator.review.evidence.precision import (
    function_complexities,
    import_lines,
    is_pinned_hash,
    noqa_codes,
)
from orchestrator.review.evidence.quality import ruff_check, secrets_check
from orchestrator.review.findings import Severity

from ..sample import SampleRepo
from .fakes import ctx_for, fake, ruff_line

RANDOM_USE = "import random\n\n\ndef pick(items):\n    return random.choice(items)\n"


def test_random_in_tests_is_no_security_finding_but_in_source_it_is(sample_repo: SampleRepo) -> None:
    base = sample_repo.base
    head = sample_repo.commit(
        {"app/pick.py": RANDOM_USE, "tests/test_pick.py": RANDOM_USE, "tests/conftest.py": RANDOM_USE}
    )
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, base, head))
    result = ruff_check(ctx, plain_runner(sample_repo.path, 30))
    assert [(f.file, f.line, f.rule) for f in result.findings] == [("app/pick.py", 5, "S311")]


def _complex(name: str, branches: int) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(branches))
    return f"def {name}(x):\n{body}    return -1\n"


@pytest.mark.parametrize(
    ("before", "after", "reported"),
    [
        (12, 12, False),  # over the limit on the target branch, edited, not more complex
        (12, 11, False),  # made simpler, still over: the change improved it
        (12, 13, True),  # made more complex
        (9, 12, True),  # the change took it over the limit
        (None, 12, True),  # a new function
    ],
)
def test_complexity_is_reported_only_when_the_change_raises_it(
    sample_repo: SampleRepo, before: int | None, after: int, reported: bool
) -> None:
    old = _complex("f", before) if before is not None else "X = 1\n"
    first = sample_repo.commit({"app/calc.py": old})
    second = sample_repo.commit({"app/calc.py": _complex("f", after).replace("return -1", "return -2")})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second), base=first)
    result = complexity_check(ctx, plain_runner(sample_repo.path, 30))
    counted = [f.rule for f in result.findings if f.severity is not Severity.INFO]
    assert counted == (["C901"] if reported else [])
    assert result.status.value == ("failed" if reported else "passed")
    # Not raised by the change: the target branch's, shown as info (the baseline's marking).
    old = [(f.rule, f.severity) for f in result.findings if f.severity is Severity.INFO]
    assert old == ([] if reported else [("C901:pre-existing", Severity.INFO)])


def test_a_pre_existing_complexity_names_the_function_and_never_blocks(sample_repo: SampleRepo) -> None:
    first = sample_repo.commit({"app/calc.py": _complex("f", 12)})
    second = sample_repo.commit({"app/calc.py": _complex("f", 12).replace("return -1", "return -2")})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second), base=first)
    [old] = complexity_check(ctx, plain_runner(sample_repo.path, 30)).findings
    assert (old.file, old.line, old.severity) == ("app/calc.py", 1, Severity.INFO)
    assert old.message.startswith("pre-existing: `f` is too complex (13 > 10)")


def test_complexity_counts_the_same_function_alike_before_and_after() -> None:
    text = _complex("f", 12) + "\n\nclass K:\n    def m(self, a, b):\n        return a and b or a\n"
    assert function_complexities(text) == {"f": 13, "K.m": 3}


def test_a_deliberate_noqa_is_info_beside_the_rule_it_silences(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app/x.py").write_text("import os\nq = 'SELECT ' + v  # noqa: S608 - constant input\ny = 2\n")
    stdout = "\n".join([ruff_line("S608", 2), ruff_line("F401", 1)])
    result = ruff_check(ctx_for(tmp_path), fake(stdout))
    assert [(f.line, f.rule, f.severity) for f in result.findings] == [
        (1, "F401", Severity.MINOR),
        (2, "S608", Severity.CRITICAL),  # it still counts
        (2, "noqa", Severity.INFO),
    ]
    assert "silences S608 here: constant input" in result.findings[2].message


def test_noqa_comment_parsing() -> None:
    assert noqa_codes("x = 1  # noqa: S608, E501 - why") == ({"S608", "E501"}, "why")
    assert noqa_codes("x = 1  # noqa") == (None, "")
    assert noqa_codes("x = 1  # a comment") is None


def _syntax_line(row: int, message: str) -> str:
    loc = {"row": row, "column": 1}
    return json.dumps(
        {"code": None, "filename": "/wt/app/x.py", "location": loc, "end_location": loc, "message": message}
    )


def test_one_finding_per_syntax_error(tmp_path: Path) -> None:
    stdout = "\n".join(
        [_syntax_line(2, "Expected `)`, found `=`"), _syntax_line(3, "unexpected EOF while parsing")]
        + [ruff_line("E999", 2), ruff_line("F821", 2), ruff_line("F401", 1)]
    )
    result = ruff_check(ctx_for(tmp_path), fake(stdout))
    assert [(f.line, f.rule) for f in result.findings] == [(1, "F401"), (2, "invalid-syntax")]


def test_a_real_syntax_error_is_one_finding(sample_repo: SampleRepo) -> None:
    head = sample_repo.commit({"app/bad.py": "x = 1\ny = (\nz = [1,\n"})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, sample_repo.base, head))
    result = ruff_check(ctx, plain_runner(sample_repo.path, 30))
    assert [f.rule for f in result.findings] == ["invalid-syntax"]


LATIN1 = "# -*- coding: latin-1 -*-\nNAME = 'café'\n"


def test_pep_263_encodings_are_honoured(tmp_path: Path) -> None:
    (tmp_path / "l.py").write_bytes(LATIN1.encode("latin-1"))
    (tmp_path / "u.txt").write_bytes("café".encode())
    (tmp_path / "bogus.py").write_bytes(b"# coding: no-such-codec\nx = 1\n")
    assert read_source(tmp_path, "l.py") == LATIN1
    assert read_source(tmp_path, "u.txt") == "café"
    assert read_source(tmp_path, "bogus.py") == "# coding: no-such-codec\nx = 1\n"


def test_a_block_copied_into_a_latin1_file_is_found(sample_repo: SampleRepo) -> None:
    block = "".join(f"    total = total + values[{i}] * {i + 2}  # é\n" for i in range(8))
    first = sample_repo.commit(
        {"app/stats.py": f"def first(values):\n    total = 0\n{block}    return total\n"}
    )
    latin = f"# -*- coding: latin-1 -*-\n\n\ndef second(values):\n    total = 0\n{block}    return total\n"
    (sample_repo.path / "app/more.py").write_bytes(latin.encode("latin-1"))
    second = sample_repo.commit({})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second))
    assert [f.file for f in duplication_check(ctx).findings] == ["app/more.py"]


SHA = "5f2c9c8e1c4b4a3f7e0d6b2a9c1e3d5f7a9b1c3d"
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.mark.parametrize(
    ("token", "line", "pinned"),
    [
        (SHA, f"  rev: {SHA}  # frozen: v1", True),
        (SHA, f'  sha: "{SHA}"', True),
        (SHA, f"pkg @ git+https://github.com/a/b@{SHA}", True),
        (DIGEST, f'{{file = "x.whl", hash = "sha256:{DIGEST}"}}', True),
        (f"sha256:{DIGEST}", f"foo==1.0 --hash=sha256:{DIGEST}", True),
        ("z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg", 'integrity: "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg"', True),
        (SHA, f'AutoModel.from_pretrained("org/model", revision="{SHA}")', True),
        (SHA, f'hf_hub_download("org/model", "w.bin", commit_id="{SHA}")', True),
        (SHA, f'API_TOKEN = "{SHA}"', False),  # a 40-hex value named as a token is not a pin
        ("aB3dE5fG7hI9jK1lM3nO5pQ7", 'rev = "aB3dE5fG7hI9jK1lM3nO5pQ7"', False),  # not a digest
    ],
)
def test_pinned_hashes_are_told_from_secrets(token: str, line: str, pinned: bool) -> None:
    assert is_pinned_hash(token, line) is pinned


def test_pinned_commit_hashes_and_digests_are_not_secret_findings(sample_repo: SampleRepo) -> None:
    files = {
        ".pre-commit-config.yaml": f'repos:\n- repo: https://github.com/a/b\n  sha: "{SHA}"\n',
        "app/pins.py": f'PINNED_COMMIT = "{SHA}"\n',
        "package-lock.yaml": f'integrity: "sha512-{SRI}"\n',
        "app/conf.py": f'API_TOKEN = "{SHA}"\n',
    }
    head = sample_repo.commit(files)
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, sample_repo.base, head))
    result = secrets_check(ctx, plain_runner(sample_repo.path, 60))
    assert [(f.file, f.rule) for f in result.findings] == [("app/conf.py", "secret")]


SRI = "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
MULTI_IMPORT = (
    "from orchestrator.review.evidence._base import (\n"
    + "".join(f"    name_{i},\n" for i in range(8))
    + ")\n"
)


def test_multi_line_import_lists_are_not_duplicated_code(sample_repo: SampleRepo) -> None:
    first = sample_repo.commit({"app/a.py": MULTI_IMPORT + "\nA = 1\n"})
    second = sample_repo.commit({"app/b.py": MULTI_IMPORT + "\nB = 2\n"})
    ctx = ctx_for(sample_repo.path, git_diff(sample_repo.path, first, second))
    assert duplication_check(ctx).findings == []


def test_import_lines_cover_brackets_and_backslashes() -> None:
    lines = ["import os", "from a import (", "    b,", ")", "x = (1,", "  2)", "from c import d, \\", "    e"]
    assert import_lines(lines) == {1, 2, 3, 4, 7, 8}
