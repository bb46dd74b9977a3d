"""``workflows/pair_programming.yaml``: one model and one loader for the whole file.

The review's sections (``evidence:``, ``policy:``) are modelled in ``orchestrator.review.settings``
and inherited here, so the review layer depends on nothing above it; the graph's own sections
(``rounds:``, ``personas:``, ``models:``, ``budget:``, ``builder:``) are added here. An unknown key
anywhere in the file is an error naming its line and the known keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from orchestrator import _yaml
from orchestrator._files import read_text
from orchestrator.errors import ConfigError
from orchestrator.resources import data_file
from orchestrator.review.settings import ReviewSettings
from orchestrator.sandbox.bwrap import Limits, parsable_command

WORKFLOW_FILE = "pair_programming.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoundSettings(_Strict):
    max: int = Field(3, ge=1, le=20)
    """Review rounds before the task escalates to a human."""


class PersonaSettings(_Strict):
    default: list[str] = Field(default_factory=lambda: ["security_expert", "testing_expert"])
    """Personas used when the TaskCard names none."""


class BudgetSettings(_Strict):
    max_tokens: int | None = Field(None, ge=1)
    max_usd: float | None = Field(None, gt=0)


class BuilderSettings(_Strict):
    """How a builder round may run: the ``builder:`` section, passed as is to `run_builder`."""

    max_steps: int = Field(30, ge=1)
    """Model turns per round; each turn may ask for several tool calls."""
    allowed_commands: list[Annotated[str, AfterValidator(parsable_command)]] = Field(
        default_factory=lambda: ["pytest", "python -m pytest", "ruff check", "ruff format --check"]
    )
    """Argv prefixes ``run_check`` accepts (see `orchestrator.sandbox.bwrap.CommandPolicy`)."""
    limits: Limits = Limits()
    """Time, CPU, process, memory, file-size, output and disk limits for each check command; the
    review's evidence commands use them too, with each dimension's own time limit."""


class WorkflowSettings(ReviewSettings):
    """The whole workflow file: the review's sections (``evidence``, ``policy``) and the graph's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rounds: RoundSettings = RoundSettings()
    personas: PersonaSettings = PersonaSettings()
    models: dict[str, str] = Field(default_factory=dict)
    """Model per role (``builder``, ``reviewer``, a persona name, ``*``); the TaskCard and
    ``--model``/``AIOS_MODEL`` override it. No code default: a run without one is told to choose."""
    budget: BudgetSettings = BudgetSettings()
    builder: BuilderSettings = BuilderSettings()


def load_workflow(*, workspace: Path | None = None, name: str = WORKFLOW_FILE) -> WorkflowSettings:
    """Read and validate ``workflows/<name>``; the workspace's copy of the file wins.

    Raises:
        ConfigError: the file is not YAML, not a mapping, or a key is unknown or invalid
            (file, line, field and the known keys).
    """
    path = data_file("workflows", name, workspace=workspace)
    return parse_workflow(read_text(path, error=ConfigError), file=path)


def parse_workflow(text: str, *, file: str | Path) -> WorkflowSettings:
    """Validate a workflow file's text (see ``load_workflow``)."""
    data: Any = _yaml.load(text, file=file) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            "a workflow file must be a mapping of sections", file=file, fix="start with `evidence:`"
        )
    present = {key: value for key, value in data.items() if value is not None}
    return _yaml.validate(WorkflowSettings, present, file=file, text=text)
