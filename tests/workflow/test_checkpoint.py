"""The one seam where models become the checkpoint's plain data, and back."""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import AiosError
from orchestrator.review.evidence import EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.round import CheckResult
from orchestrator.workflow.checkpoint import (
    HumanDecision,
    dump_check,
    dump_decision,
    dump_findings,
    load_check,
    load_decision,
    load_findings,
)

FINDING = Finding(
    dimension=Dimension.QUALITY, severity=Severity.MAJOR, file="a.py", line=3, message="eval", rule="S307"
)


def plain(data: object) -> object:
    """``data`` through JSON: equal to ``data`` only when it holds plain JSON types."""
    return json.loads(json.dumps(data))


def test_a_check_result_round_trips_as_plain_data() -> None:
    result = CheckResult(
        dimension=Dimension.QUALITY,
        findings=[FINDING],
        evidence=[EvidenceResult(name="ruff", dimension=Dimension.QUALITY, status=EvidenceStatus.FAILED)],
        errors=["reviewer timed out"],
        dropped_ungrounded=2,
    )
    data = dump_check(result)
    assert plain(data) == data and data["findings"][0]["dimension"] == "Q"
    assert load_check(data) == result


def test_findings_round_trip_and_none_reads_as_no_findings() -> None:
    data = dump_findings([FINDING])
    assert plain(data) == data and data[0]["severity"] == "major"
    assert load_findings(data) == [FINDING]
    assert load_findings(None) == [] and dump_findings([]) == []


def test_a_decision_round_trips_and_anything_else_is_refused() -> None:
    decision = HumanDecision(action="reject", actor="alice", feedback="rename it")
    data = dump_decision(decision)
    assert data == {"action": "reject", "actor": "alice", "feedback": "rename it"}
    assert load_decision(data) == decision
    approved = HumanDecision(action="approve", actor="alice")
    assert load_decision({"action": "approve", "actor": "alice"}) == approved  # feedback is optional
    assert load_decision(None) is None
    refused = r"a human decision must be approve or reject, not \{'action': 'merge'"
    with pytest.raises(AiosError, match=refused):
        load_decision({"action": "merge", "actor": "alice"})
    with pytest.raises(AiosError, match="a human decision must be approve or reject, not 'yes'"):
        load_decision("yes")
