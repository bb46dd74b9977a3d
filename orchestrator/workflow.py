"""The workflow graph's own sections of ``workflows/pair_programming.yaml``.

``evidence:`` and ``policy:`` belong to the reviewer (``orchestrator.review.settings``); this
module validates ``rounds:``, ``personas:``, ``models:``, ``budget:`` and ``builder:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import _yaml
from orchestrator.errors import ConfigError
from orchestrator.resources import data_file

WORKFLOW_FILE = "pair_programming.yaml"
SECTIONS = ("rounds", "personas", "models", "budget", "builder")


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
    """Limits for each sandboxed command (``orchestrator.sandbox.Limits`` says what each binds)."""

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


class WorkflowSettings(BaseModel):
    """The graph's sections of the workflow file; other top-level keys belong to other parts."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rounds: RoundSettings = RoundSettings()
    personas: PersonaSettings = PersonaSettings()
    models: dict[str, str] = Field(default_factory=lambda: {"*": "fake"})
    """Model per role (``builder``, ``reviewer``, a persona name, ``*``)."""
    budget: BudgetSettings = BudgetSettings()
    builder: BuilderSection = BuilderSection()


def load_workflow(*, workspace: Path | None = None, name: str = WORKFLOW_FILE) -> WorkflowSettings:
    """Read and validate the graph's sections; the workspace's copy of the file wins.

    Raises:
        ConfigError: with file, line and field.
    """
    path = data_file("workflows", name, workspace=workspace)
    text = path.read_text(encoding="utf-8")
    data: Any = _yaml.load(text, file=path) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            "a workflow file must be a mapping of sections", file=path, fix="start with `rounds:`"
        )
    mine = {key: data[key] for key in SECTIONS if data.get(key) is not None}
    return _yaml.validate(WorkflowSettings, mine, file=path, text=text)
