"""A full validation pass over a workspace's state files, collecting every problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator import _yaml
from orchestrator.errors import AiosError, StateError
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace


def check_state(ws: Workspace) -> list[AiosError]:
    """Every problem in project.yaml, the index, agents/sessions files and each task file."""
    store = Store(ws)
    problems: list[AiosError] = []
    _collect(problems, lambda: ws.project)
    _collect(problems, store.read_index)
    for name in ("agents.yaml", "sessions.yaml"):
        path = ws.state_dir / name
        _collect(
            problems,
            lambda p=path: _yaml.load(p.read_text(encoding="utf-8"), file=ws.rel(p), error=StateError),
        )
    for path in sorted(ws.tasks_dir.glob("TASK_*.yaml")):
        _collect(problems, lambda p=path: store.read_task(p.stem))
    return problems


def _collect(problems: list[AiosError], check: Callable[[], Any]) -> None:
    try:
        check()
    except AiosError as exc:
        problems.append(exc)
    except FileNotFoundError as exc:
        problems.append(
            StateError("file is missing", file=exc.filename, fix="run `aios init` to recreate it")
        )
