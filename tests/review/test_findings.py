"""Findings: severity order, where a finding points, a fingerprint stable across rounds, masked text."""

from __future__ import annotations

from orchestrator.review.findings import Dimension, Finding, Severity

from .sample import OPENAI_KEY


def _finding(**kwargs: object) -> Finding:
    fields: dict[str, object] = {"dimension": Dimension.QUALITY, "severity": Severity.MAJOR, "message": "m"}
    return Finding.model_validate({**fields, **kwargs})


def test_severities_compare_by_how_bad_they_are() -> None:
    assert Severity.CRITICAL.at_least(Severity.MAJOR) and Severity.MAJOR.at_least(Severity.MAJOR)
    assert not Severity.MINOR.at_least(Severity.MAJOR)


def test_the_fingerprint_ignores_line_numbers_and_punctuation_but_not_the_file() -> None:
    first = _finding(file="app/db.py", line=12, rule="S608", message="SQL built from input at line 12.")
    moved = _finding(file="app/db.py", line=40, rule="S608", message="sql built from input, at line 40")
    elsewhere = _finding(file="app/api.py", line=12, rule="S608", message="SQL built from input at line 12.")
    assert first.fingerprint == moved.fingerprint
    assert first.fingerprint != elsewhere.fingerprint


def test_summary_names_where_and_the_rule_or_dimension() -> None:
    assert _finding(file="app/db.py", line=12, rule="S608").summary() == "app/db.py:12 S608: m"
    assert _finding(suggestion="fix it").summary(suggestion=True) == "the change Q: m Suggestion: fix it"


def test_a_secret_in_a_message_or_suggestion_is_masked() -> None:
    found = _finding(message=f"key {OPENAI_KEY} committed", suggestion=f"rotate {OPENAI_KEY}")
    assert OPENAI_KEY not in found.message + (found.suggestion or "")
    assert "sk-proj-****" in found.message


def test_a_list_that_shows_the_dimension_does_not_repeat_it_for_a_finding_with_no_rule() -> None:
    no_rule = _finding(file="README.md", line=5)
    assert no_rule.summary(dimension=False) == "README.md:5: m"
    assert no_rule.summary() == "README.md:5 Q: m"  # alone, the dimension labels it
    assert _finding(file="a.py", line=1, rule="S608").summary(dimension=False) == "a.py:1 S608: m"


def test_the_report_line_names_the_dimension_once() -> None:
    from orchestrator.review.report import _finding_line

    line = _finding_line(_finding(file="README.md", line=5, message="the example may confuse readers"))
    assert line.endswith(" README.md:5: the example may confuse readers")
    assert line.count(" Q ") == 1 and " Q:" not in line
