"""Reading and writing ``state/agents.yaml`` and ``state/sessions.yaml``: one list under one key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from orchestrator import _yaml
from orchestrator._files import atomic_write, read_text
from orchestrator.errors import StateError
from orchestrator.state.workspace import Workspace

R = TypeVar("R", bound=BaseModel)


def load(ws: Workspace, path: Path, model: type[R]) -> R:
    """Read and validate the file (missing: empty).

    Raises:
        StateError: it does not parse, is not a mapping, or an entry is invalid (file, field, line).
    """
    rel, key = ws.rel(path), next(k for k in model.model_fields if k != "schema_version")
    try:
        text = read_text(path, file=rel)
    except FileNotFoundError:
        return model()
    data = _yaml.load(text, file=rel, error=StateError) or {}
    if not isinstance(data, dict):
        raise StateError(
            f"this must be a mapping whose `{key}:` is a list",
            file=rel,
            line=1,
            fix=f"write `schema_version: 1` and `{key}: []` (as `aios init` does), then add entries",
        )
    return _yaml.validate(model, data, file=rel, text=text, error=StateError)


def save(path: Path, header: str, roster: BaseModel) -> None:
    """Write the file atomically: ``header`` (comments) then the YAML, without empty fields."""
    atomic_write(path, header + _yaml.dump(roster.model_dump(mode="json", exclude_none=True)))
