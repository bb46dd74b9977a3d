"""The review's sections of workflows/pair_programming.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.review.findings import Severity
from orchestrator.review.settings import (
    ReviewSettings,
    RuffSettings,
    rule_matches,
)
from orchestrator.workflow.settings import WorkflowSettings, load_workflow, parse_workflow


def test_the_shipped_file_states_exactly_the_defaults() -> None:
    shipped = load_workflow()
    assert (shipped.evidence, shipped.policy) == (ReviewSettings().evidence, ReviewSettings().policy)


def test_a_workspace_copy_overrides_the_shipped_file(tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "pair_programming.yaml").write_text(
        "evidence:\n  optimization:\n    complexity:\n      max: 5\nrounds:\n  max: 3\n"
    )
    settings = load_workflow(workspace=tmp_path)
    assert settings.evidence.optimization.complexity.max == 5
    assert settings.policy == ReviewSettings().policy


def test_an_unknown_key_names_file_line_and_field() -> None:
    text = "# comment\nevidence:\n  quality:\n    rufff:\n      select: [F]\n"
    with pytest.raises(ConfigError) as info:
        parse_workflow(text, file="workflows/pair_programming.yaml")
    assert info.value.render() == (
        "workflows/pair_programming.yaml:4: evidence.quality.rufff: unknown field\n"
        "  fix: remove the field or correct its spelling: "
        "use one of timeout_s, ruff, bandit, secrets, injection"
    )


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [("polcy:\n  revise_on: []\n", 1, "polcy"), ("rounds:\n  max: 3\nround:\n  max: 2\n", 3, "round")],
)
def test_an_unknown_top_level_key_is_an_error(text: str, line: int, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_workflow(text, file="workflows/pair_programming.yaml")
    assert (info.value.line, info.value.field) == (line, field)
    assert "evidence, policy, rounds, personas, models, budget, builder" in (info.value.fix or "")


def test_a_bad_severity_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_workflow("policy:\n  security_floor: huge\n", file="w.yaml")
    assert info.value.field == "policy.security_floor"
    assert info.value.line == 2


def test_empty_and_partial_files() -> None:
    assert parse_workflow("", file="w.yaml") == WorkflowSettings()
    assert parse_workflow("evidence:\npolicy:\n", file="w.yaml") == WorkflowSettings()
    with pytest.raises(ConfigError):
        parse_workflow("- a list\n", file="w.yaml")


@pytest.mark.parametrize(
    ("rule", "pattern", "matches"),
    [
        ("S608", "S", True),
        ("SIM101", "S", False),
        ("E902", "E9", True),
        ("F401", "F", True),
        ("FBT001", "F", False),
        ("S608", "S608", True),
        ("acceptance:AC1", "acceptance", True),
        ("acceptance-unchecked:AC1", "acceptance", False),
        ("secret", "secret", True),
    ],
)
def test_rule_matches(rule: str, pattern: str, matches: bool) -> None:
    assert rule_matches(rule, pattern) is matches


def test_the_longest_prefix_sets_the_severity() -> None:
    ruff = RuffSettings()
    assert ruff.severity_of("S608") is Severity.CRITICAL
    assert ruff.severity_of("S105") is Severity.MAJOR
    assert ruff.severity_of("F821") is Severity.MAJOR
    assert ruff.severity_of("F401") is Severity.MINOR
    assert ruff.severity_of("UP006") is Severity.MINOR  # the default
