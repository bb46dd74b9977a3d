"""The reviewer: one round of evidence, persona models and a verdict by policy, and its report.

The front door holds the names callers use; the modules behind it load on first use, so a state
command that only needs ``review.findings`` or ``review.personas`` does not pull in the rest.

    from orchestrator.review import review_static
    outcome = review_static(worktree, base="main", runners=runners, criteria=card.acceptance_criteria)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.review.findings import Dimension, Finding, Severity
    from orchestrator.review.policy import Verdict
    from orchestrator.review.report import RoundReport, latest_report, write_report
    from orchestrator.review.reviewer import Panel
    from orchestrator.review.round import (
        CheckResult,
        RoundInputs,
        RoundOutcome,
        check,
        conclude,
        review_static,
        round_inputs,
    )

_HOMES = {
    "Dimension": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "Verdict": "policy",
    "RoundReport": "report",
    "latest_report": "report",
    "write_report": "report",
    "Panel": "reviewer",
    "CheckResult": "round",
    "RoundInputs": "round",
    "RoundOutcome": "round",
    "check": "round",
    "conclude": "round",
    "review_static": "round",
    "round_inputs": "round",
}
__all__ = [
    "CheckResult",
    "Dimension",
    "Finding",
    "Panel",
    "RoundInputs",
    "RoundOutcome",
    "RoundReport",
    "Severity",
    "Verdict",
    "check",
    "conclude",
    "latest_report",
    "review_static",
    "round_inputs",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
