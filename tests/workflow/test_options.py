"""``RunOptions``: one typed value for a run's choices, checked when it is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestrator.errors import StateError
from orchestrator.workflow.options import RunOptions


def test_a_mode_outside_its_choices_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="builder_mode") as caught:
        RunOptions(builder_mode="robot")  # type: ignore[arg-type]
    assert "'agent' or 'external'" in str(caught.value)
    with pytest.raises(ValidationError, match="reviewer_mode"):
        RunOptions(reviewer_mode="human")  # type: ignore[arg-type]


def test_a_misspelt_option_is_an_error_not_silently_dropped() -> None:
    with pytest.raises(ValidationError, match="sandbx"):
        RunOptions(sandbx=False)  # type: ignore[call-arg]


def test_options_are_frozen() -> None:
    options = RunOptions()
    with pytest.raises(ValidationError):
        options.sandbox = False  # type: ignore[misc]


def test_modes_left_out_are_the_defaults() -> None:
    assert RunOptions().modes() == {"builder_mode": "agent", "reviewer_mode": "model"}
    assert (RunOptions().builder, RunOptions().reviewer) == ("agent", "model")
    chosen = RunOptions(builder_mode="external", reviewer_mode="static")
    assert chosen.modes() == {"builder_mode": "external", "reviewer_mode": "static"}


def test_a_resumed_run_keeps_its_saved_modes_and_the_other_options() -> None:
    saved = {"builder_mode": "external", "reviewer_mode": "static"}
    options = RunOptions(model="fake", record=Path("run.jsonl"), sandbox=False)
    resumed = options.resumed_with(saved)
    assert resumed.modes() == saved
    assert (resumed.model, resumed.record, resumed.sandbox) == ("fake", Path("run.jsonl"), False)
    assert RunOptions(builder_mode="external").resumed_with(saved).reviewer == "static"
    assert options.resumed_with({}) == options  # a new run: nothing saved yet


@pytest.mark.parametrize(
    ("asked", "message", "fix"),
    [
        (
            {"builder_mode": "agent"},
            "this review run started with --builder external, not agent",
            "leave out --builder (or pass --builder external) to go on with it",
        ),
        (
            {"reviewer_mode": "model"},
            "this review run started with --reviewer static, not model",
            "leave out --reviewer (or pass --reviewer static) to go on with it",
        ),
    ],
)
def test_a_resumed_run_refuses_a_different_mode(asked: dict[str, str], message: str, fix: str) -> None:
    with pytest.raises(StateError) as caught:
        RunOptions(**asked).resumed_with({"builder_mode": "external", "reviewer_mode": "static"})  # type: ignore[arg-type]
    assert (caught.value.message, caught.value.fix) == (message, fix)
