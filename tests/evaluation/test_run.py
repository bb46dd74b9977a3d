"""What the model reviewer of ``aios eval`` reads of a case: the criteria, never the label."""

from __future__ import annotations

from orchestrator.evaluation.corpus import load_corpus
from orchestrator.evaluation.run import card_text
from orchestrator.resources import SHIPPED_ROOT

CASES = {c.name: c for c in load_corpus(SHIPPED_ROOT / "eval")}


def test_the_panel_reads_the_criteria_and_never_the_description() -> None:
    case = CASES["failing-acceptance"]
    text = card_text(case)
    assert text.startswith("Acceptance criteria:\n- AC1: greet says Hello, <name>!")
    assert case.spec.description not in text


def test_a_case_without_criteria_has_a_neutral_card() -> None:
    assert card_text(CASES["sql-injection"]) == "(no TaskCard: review the change on its own merits)"
    assert "SQL" not in card_text(CASES["sql-injection"])
