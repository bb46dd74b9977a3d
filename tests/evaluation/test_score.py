"""Matching findings to labels: dimension, rule, file, line and severity floor count; info never."""

from __future__ import annotations

from orchestrator.evaluation.corpus import Expected
from orchestrator.evaluation.score import score_case, totals
from orchestrator.review.findings import Dimension, Finding, Severity

LABEL = Expected(dimension=Dimension.QUALITY, rule="S608", file="app/db.py", line=4, severity=Severity.MAJOR)


def _finding(**change: object) -> Finding:
    base = {
        "dimension": "Q",
        "severity": "critical",
        "rule": "S608",
        "file": "app/db.py",
        "line": 4,
        "message": "sql",
    }
    return Finding.model_validate({**base, **change})


def test_a_finding_at_the_labelled_place_is_found() -> None:
    score = score_case("c", [LABEL], [_finding()], clean=False)
    assert (len(score.found), score.missed, score.unexpected) == (1, [], [])


def test_another_line_file_rule_or_lower_severity_is_a_miss() -> None:
    for change in ({"line": 5}, {"file": "app/x.py"}, {"rule": "S607"}, {"severity": "minor"}):
        score = score_case("c", [LABEL], [_finding(**change)], clean=False)
        assert score.missed == [LABEL], change
        assert len(score.unexpected) == 1, change


def test_info_findings_are_never_false_positives() -> None:
    score = score_case("c", [], [_finding(severity="info", rule="governance-canon")], clean=True)
    assert score.unexpected == []
    assert totals([score]).clean_flagged == 0


def test_totals_split_by_dimension_and_severity() -> None:
    hit = score_case("a", [LABEL], [_finding()], clean=False)
    noise = score_case("b", [], [_finding(dimension="O", rule="C901", severity="minor")], clean=True)
    result = totals([hit, noise])
    assert (result.overall.tp, result.overall.fp, result.overall.fn) == (1, 1, 0)
    assert result.by_dimension["Q"].recall == 1.0 and result.by_dimension["O"].precision == 0.0
    assert result.by_severity["major"].tp == 1 and result.by_severity["minor"].fp == 1
    assert (result.clean_cases, result.clean_flagged, result.clean_fp_rate) == (1, 1, 1.0)


def test_a_model_finding_with_no_rule_matches_by_dimension_and_place() -> None:
    model = {"rule": None, "source": "model", "message": "SQL built from user input"}
    score = score_case("c", [LABEL], [_finding(**model)], clean=False)
    assert (len(score.found), score.unexpected) == (1, [])
    for change in ({"line": 5}, {"dimension": "O"}, {"severity": "minor"}):
        score = score_case("c", [LABEL], [_finding(**model, **change)], clean=False)
        assert score.missed == [LABEL], change


def test_a_model_finding_never_matches_a_label_without_a_place() -> None:
    label = Expected(dimension=Dimension.COMPLETENESS, rule="no-tests", severity=Severity.MINOR)
    remark = _finding(dimension="C", rule=None, file=None, line=None, severity="minor", message="untested?")
    score = score_case("c", [label], [remark], clean=False)
    assert (score.missed, score.unexpected) == ([label], [remark])


def test_the_evidence_finding_takes_the_label_and_an_agreeing_model_is_no_noise() -> None:
    model = _finding(rule=None, source="model", message="SQL built from user input")
    score = score_case("c", [LABEL], [model, _finding()], clean=False)
    assert (len(score.found), score.unexpected) == (1, [])
