"""Personas and dimension texts: the shipped ones load; an unknown name lists the known ones."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.review.findings import Dimension
from orchestrator.review.personas import known_personas, load_dimensions, load_persona


def test_an_unknown_persona_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        load_persona("securty_expert")
    assert err.value.message == "unknown persona 'securty_expert'"
    assert err.value.fix == f"use one of {', '.join(known_personas())}"
    assert "security_expert" in known_personas()


def test_every_dimension_has_its_text() -> None:
    assert set(load_dimensions()) == set(Dimension)
