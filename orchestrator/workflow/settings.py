"""``workflows/pair_programming.yaml``: one model and one loader for the whole file.

The review's sections (``evidence:``, ``policy:``) are modelled in ``orchestrator.review.settings``
and inherited here, so the review layer depends on nothing above it; the graph's own sections
(``rounds:``, ``personas:``, ``models:``, ``budget:``, ``builder:``) are added here. An unknown key
anywhere in the file is an error naming its line and the known keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import _yaml
from orchestrator.errors import ConfigError
from orchestrator.resources import data_file
from orchestrator.review.settings import ReviewSettings

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


class SandboxLimits(_Strict):
    """Limits for each sandboxed command (``orchestrator.sandbox.bwrap.Limits`` says what each binds)."""

    timeout_s: float = Field(300, gt=0)
    cpu_s: int = Field(600, gt=0)
    max_file_bytes: int = Field(256 * 1024 * 1024, gt=0)
    max_processes: int = Field(256, gt=0)
    max_memory_bytes: int = Field(2 * 1024**3, gt=0)
    max_disk_bytes: int = Field(1024**3, gt=0)


class BuilderSection(_Strict):
    max_steps: int = Field(30, ge=1)
    allowed_commands: list[str] = Field(
        default_factory=lambda: ["pytest", "python -m pytest", "ruff check", "ruff format --check"]
    )
    limits: SandboxLimits = SandboxLimits()


class WorkflowSettings(ReviewSettings):
    """The whole workflow file: the review's sections (``evidence``, ``policy``) and the graph's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rounds: RoundSettings = RoundSettings()
    personas: PersonaSettings = PersonaSettings()
    models: dict[str, str] = Field(default_factory=dict)
    """Model per role (``builder``, ``reviewer``, a persona name, ``*``); the TaskCard and
    ``--model``/``AIOS_MODEL`` override it. No code default: a run without one is told to choose."""
    budget: BudgetSettings = BudgetSettings()
    builder: BuilderSection = BuilderSection()


def load_workflow(*, workspace: Path | None = None, name: str = WORKFLOW_FILE) -> WorkflowSettings:
    """Read and validate ``workflows/<name>``; the workspace's copy of the file wins.

    Raises:
        ConfigError: the file is not YAML, not a mapping, or a key is unknown or invalid
            (file, line, field and the known keys).
    """
    path = data_file("workflows", name, workspace=workspace)
    return parse_workflow(path.read_text(encoding="utf-8"), file=path)


def parse_workflow(text: str, *, file: str | Path) -> WorkflowSettings:
    """Validate a workflow file's text (see ``load_workflow``)."""
    data: Any = _yaml.load(text, file=file) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            "a workflow file must be a mapping of sections", file=file, fix="start with `evidence:`"
        )
    present = {key: value for key, value in data.items() if value is not None}
    return _yaml.validate(WorkflowSettings, present, file=file, text=text)
