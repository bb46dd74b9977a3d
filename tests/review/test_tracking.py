"""Findings tracked across rounds: open, resolved, new; robust to shifted lines and renames."""

from __future__ import annotations

from orchestrator.review.diff import git_diff, parse_diff
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.tracking import carry, rereview_view, track

from .sample import SampleRepo


def f(file: str | None, line: int | None, rule: str | None, message: str, source: str = "ruff") -> Finding:
    return Finding(
        dimension=Dimension.QUALITY,
        severity=Severity.MAJOR,
        file=file,
        line=line,
        rule=rule,
        message=message,
        source=source,
    )


ROUND_1 = [
    f("app.py", 10, "S608", "Possible SQL injection vector"),
    f("app.py", 20, "C901", "`handle` is too complex (17 > 10)"),
    f("app.py", 30, None, "The retry loop never gives up.", source="model"),
    f("app.py", 40, "S602", "`subprocess` call with `shell=True`"),
    f("app.py", 50, "S602", "`subprocess` call with `shell=True`"),
]

# Five lines inserted at the top; line 10 (the SQL) rewritten in place.
DELTA = parse_diff(
    "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n"
    "@@ -0,0 +1,5 @@\n+import os\n+import re\n+\n+\n+X = 1\n"
    "@@ -10 +15 @@\n-q = 'SELECT' + name\n+q = ('SELECT ?', name)\n"
)

ROUND_2 = [
    f("app.py", 25, "C901", "`handle` is too complex (12 > 10)"),  # same function, new count
    f("app.py", 35, None, "the retry loop never gives up", source="model"),  # reworded a little
    f("app.py", 45, "S602", "`subprocess` call with `shell=True`"),
    f("app.py", 55, "S602", "`subprocess` call with `shell=True`"),
    f("app.py", 60, "B006", "Do not use mutable data structures for argument defaults"),
]


def test_shifted_lines_keep_their_identity() -> None:
    result = track(ROUND_1, ROUND_2, delta=DELTA)
    assert [(x.rule, x.line) for x in result.open] == [("C901", 25), (None, 35), ("S602", 45), ("S602", 55)]
    assert [(x.rule, x.line) for x in result.resolved] == [("S608", 10)]  # as reported in round 1
    assert [x.rule for x in result.new] == ["B006"]
    assert result.state_of(ROUND_1[0]) == "resolved"
    assert result.state_of(ROUND_2[-1]) == "new"


def test_without_a_delta_matching_is_by_fingerprint_alone() -> None:
    result = track(ROUND_1, ROUND_2)
    assert len(result.open) == 4 and len(result.resolved) == 1 and len(result.new) == 1


def test_same_fingerprint_pairs_by_nearest_line() -> None:
    before = [f("a.py", 10, "S602", "shell"), f("a.py", 100, "S602", "shell")]
    after = [f("a.py", 101, "S602", "shell")]
    result = track(before, after)
    assert [x.line for x in result.open] == [101]
    assert [x.line for x in result.resolved] == [10]


def test_carry_moves_lines_and_drops_removed_ones() -> None:
    moved = carry(ROUND_1, DELTA)
    assert [x.line for x in moved] == [None, 25, 35, 45, 55]
    assert carry(ROUND_1, None) == ROUND_1


def test_a_rename_follows_the_file(sample_repo: SampleRepo) -> None:
    body = "".join(f"line_{i} = {i}\n" for i in range(40))
    first = sample_repo.commit({"app/calc.py": body})
    second = sample_repo.commit({"app/calc.py": None, "app/maths.py": "import os\n" + body})
    delta = git_diff(sample_repo.path, first, second)
    previous = [f("app/calc.py", 20, "F401", "unused thing")]
    [moved] = carry(previous, delta)
    assert (moved.file, moved.line) == ("app/maths.py", 21)
    result = track(previous, [f("app/maths.py", 21, "F401", "unused thing")], delta=delta)
    assert len(result.open) == 1 and not result.resolved and not result.new


def test_rereview_view_shows_the_delta_and_the_open_findings() -> None:
    evidence_now = [ROUND_2[0], ROUND_2[2], ROUND_2[3]]  # S608 no longer reported by ruff
    view = rereview_view(ROUND_1, DELTA, since="a" * 40, head="b" * 40, current_evidence=evidence_now)
    rules = [x.rule for x in view.open_findings]
    assert "S608" not in rules  # the evidence already shows it resolved
    assert None in rules  # model findings stay open for the model to confirm
    text = view.render()
    assert "aaaaaaaaaaaa..bbbbbbbbbbbb" in text
    assert "   15 + q = ('SELECT ?', name)" in text
    assert f"[{ROUND_1[2].fingerprint}]" in text
    assert "app.py:35" in text
