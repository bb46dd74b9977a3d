"""Reading and writing ``state/agents.yaml`` and ``state/sessions.yaml``: one list under one key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from orchestrator import _yaml
from orchestrator._files import atomic_write, read_text
from orchestrator._lock import exclusive
from orchestrator.errors import StateError
from orchestrator.state.workspace import Workspace

R = TypeVar("R", bound=BaseModel)


def load(ws: Workspace, path: Path, model: type[R]) -> R:
    """Read and validate the file (missing: empty).

    Raises:
        StateError: it does not parse, is not a mapping, or an entry is invalid (file, field, line).
    """
    rel, key = ws.rel(path), _key(model)
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


def load_state(ws: Workspace, path: Path, model: type[R]) -> R:
    """The roster where the workspace keeps its state: its table in the state database when the
    state is shared (``aios_agents``, ``aios_sessions``), else the file (``load``)."""
    from orchestrator.state.stores import shared_store  # stores imports the task store: only here

    if (shared := shared_store(ws)) is None:
        return load(ws, path, model)
    key = _key(model)
    return validated(model, {key: shared.load_roster(key)}, shared.where(key))


def save_state(ws: Workspace, path: Path, header: str, roster: BaseModel) -> None:
    """Write ``roster`` where ``load_state`` reads it (its table under the row lock, or the file)."""
    from orchestrator.state.stores import shared_store

    if (shared := shared_store(ws)) is None:
        save(path, header, roster)
        return
    key = _key(type(roster))
    with shared.locked():
        shared.save_roster(key, docs(getattr(roster, key)))


def _key(model: type[BaseModel]) -> str:
    """The key of the roster's one list."""
    return next(k for k in model.model_fields if k != "schema_version")


def validated(model: type[R], data: dict[str, Any], file: str) -> R:
    """Validate rows read from the state database (``file`` names the table in a refusal)."""
    return _yaml.validate(model, data, file=file, error=StateError)


def docs(items: list[Any]) -> list[dict[str, Any]]:
    """Each entry as ``save`` writes it to a file: JSON types, no empty fields."""
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


def locked(ws: Workspace) -> AbstractContextManager[object]:
    """The state lock: the file lock, or the workspace's row lock in the state database."""
    from orchestrator.state.stores import shared_store  # stores imports the task store: only here

    shared = shared_store(ws)
    return shared.locked() if shared is not None else _file_lock(ws)


@contextmanager
def _file_lock(ws: Workspace) -> Iterator[object]:
    with exclusive(ws.state_lock):
        yield None
