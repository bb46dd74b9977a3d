"""Every shipped persona, prompt and workflow file loads and validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.resources import SHIPPED_ROOT
from orchestrator.review.findings import Dimension
from orchestrator.review.personas import known_personas, load_dimensions, load_persona
from orchestrator.workflow.settings import load_workflow

PERSONAS = ["architecture_expert", "domain_expert", "performance_expert", "security_expert", "testing_expert"]


def test_the_five_personas_ship() -> None:
    assert known_personas() == PERSONAS


@pytest.mark.parametrize("name", PERSONAS)
def test_persona_files_validate(name: str) -> None:
    persona = load_persona(name)
    assert persona.name == name and persona.checklist and {"critical", "major"} <= persona.severity.keys()


def test_dimensions_and_review_prompt() -> None:
    assert set(load_dimensions()) == set(Dimension)
    template = (SHIPPED_ROOT / "prompts" / "review.md").read_text()
    for placeholder in ("$persona_title", "$checklist", "$card", "$evidence", "$change"):
        assert placeholder in template


def test_workflow_sections_validate() -> None:
    workflow = load_workflow()
    assert workflow.rounds.max >= 1 and set(workflow.personas.default) <= set(PERSONAS)
    assert load_workflow().policy.revise_on


def test_unknown_persona_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        load_persona("securty_expert")
    assert err.value.fix == f"use one of {', '.join(PERSONAS)}"


def test_a_workspace_file_overrides_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "security_expert.yaml").write_text(
        "name: security_expert\ntitle: Our AppSec\nfocus: our rules\n"
        "checklist: [x]\nseverity: {critical: a}\n"
    )
    assert load_persona("security_expert", workspace=tmp_path).title == "Our AppSec"


def test_a_broken_workspace_workflow_names_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "pair_programming.yaml").write_text("rounds:\n  max: lots\n")
    with pytest.raises(ConfigError) as err:
        load_workflow(workspace=tmp_path)
    assert (err.value.field, err.value.line) == ("rounds.max", 2)
