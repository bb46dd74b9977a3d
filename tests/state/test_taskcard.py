from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.state.taskcard import load, parse, render

GOOD = """\
---
id: TASK_DEV_0007
title: Rate-limit the login endpoint
queue: dev
priority: 2
acceptance_criteria:
  - id: AC1
    text: Six failed logins in a minute get HTTP 429
    check: pytest -q tests/test_login.py
  - id: AC2
    text: The limit is documented
personas: [security_expert]
paths: [src/auth/]
---
Body with **Markdown**.
"""

NO_CRITERIA = GOOD[: GOOD.index("acceptance_criteria:")] + "acceptance_criteria: []\n---\n"


def test_parse_reads_front_matter_and_body() -> None:
    card = parse(GOOD, file="card.md")
    assert card.id == "TASK_DEV_0007"
    assert card.acceptance_criteria[0].check == "pytest -q tests/test_login.py"
    assert card.acceptance_criteria[1].check is None
    assert card.personas == ["security_expert"]
    assert card.body == "Body with **Markdown**.\n"


def test_render_round_trips() -> None:
    card = parse(GOOD, file="card.md")
    assert parse(render(card), file="again.md") == card


@pytest.mark.parametrize(
    ("text", "field", "line", "message"),
    [
        (NO_CRITERIA, "acceptance_criteria", 6, "at least 1 item"),
        (GOOD.replace("priority: 2\n", "priority: 2\ncolour: red\n"), "colour", 6, "unknown field"),
        (GOOD.replace("id: TASK_DEV_0007", "id: DEV-7"), "id", 2, "TASK_<QUEUE>_<NNNN>"),
        (GOOD.replace("queue: dev", "queue: data"), "(top level)", None, "belongs to queue dev"),
        (
            GOOD.replace("    text: The limit is documented\n", ""),
            "acceptance_criteria[1].text",
            10,
            "required",
        ),
    ],
)
def test_bad_cards_name_field_and_line(text: str, field: str, line: int | None, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, file="card.md")
    assert err.value.field == field
    if line is not None:
        assert err.value.line == line
    assert message in err.value.render()
    assert err.value.fix


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse(GOOD.replace("personas: [security_expert]", "personas: [security_expert"), file="card.md")
    assert err.value.line is not None and 12 <= err.value.line <= 14
    assert "not valid YAML" in err.value.message


def test_missing_front_matter_and_unclosed_fence() -> None:
    with pytest.raises(ConfigError, match="must start with YAML front matter"):
        parse("# just markdown\n", file="x.md")
    with pytest.raises(ConfigError, match="never closed"):
        parse("---\nid: TASK_DEV_0001\n", file="x.md")


def test_load_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such TaskCard file"):
        load(tmp_path / "nope.md")


def test_duplicate_criterion_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match="repeated: AC1"):
        parse(GOOD.replace("id: AC2", "id: AC1"), file="card.md")
