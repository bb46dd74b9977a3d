"""Reviewer personas (``personas/<name>.yaml``) and dimension texts (``prompts/dimensions.yaml``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import _yaml, resources
from orchestrator._files import read_text
from orchestrator.errors import ConfigError
from orchestrator.review.findings import Dimension


class Persona(BaseModel):
    """An expert perspective the reviewer takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    focus: str
    checklist: list[str] = Field(min_length=1)
    severity: dict[str, str]


class DimensionText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    focus: str


def known_personas(workspace: Path | None = None) -> list[str]:
    """Names of the personas visible from ``workspace`` (its own and the shipped ones)."""
    return resources.names("personas", workspace=workspace)


def load_persona(name: str, *, workspace: Path | None = None) -> Persona:
    """Read and validate ``personas/<name>.yaml``.

    Raises:
        ConfigError: unknown persona (listing the known ones) or an invalid file.
    """
    known = known_personas(workspace)
    if name not in known:
        raise ConfigError(f"unknown persona {name!r}", field="personas", fix=f"use one of {', '.join(known)}")
    path = resources.data_file("personas", f"{name}.yaml", workspace=workspace)
    text = read_text(path, error=ConfigError)
    return _yaml.validate(Persona, _yaml.load(text, file=path), file=path, text=text)


def load_dimensions(*, workspace: Path | None = None) -> dict[Dimension, DimensionText]:
    """The four dimensions' names and focus texts."""
    path = resources.data_file("prompts", "dimensions.yaml", workspace=workspace)
    text = read_text(path, error=ConfigError)
    data = _yaml.load(text, file=path) or {}
    missing = [d.value for d in Dimension if d.value not in data]
    if missing:
        raise ConfigError(f"dimensions {', '.join(missing)} are missing", file=path, fix="add Q, R, C and O")
    return {d: _yaml.validate(DimensionText, data[d.value], file=path, text=text) for d in Dimension}
