"""The audit trail: ``ops/audit/<TASK_ID>.md``, one readable, append-only file per task.

Each event of the task becomes one line, numbered by its position in the task's history, so a
commit interrupted after the task file was written can append exactly the missing lines.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from orchestrator._files import append_text

if TYPE_CHECKING:
    from orchestrator.state.store import Event, TaskState
    from orchestrator.state.workspace import Workspace

_NUMBERED = re.compile(r"^- #(\d+) ", re.MULTILINE)
_TAIL_BYTES = 16384


def actor_kind(actor: str) -> str:
    """``agent`` for ``agent:<id>`` actors, else ``human``."""
    return "agent" if actor.startswith("agent:") else "human"


def append(ws: Workspace, task: TaskState, *, start: int) -> None:
    """Append the task's events from position ``start`` (0-based) to its audit file."""
    events = task.events[start:]
    if not events:
        return
    path = ws.audit_dir / f"{task.id}.md"
    text = "" if path.exists() else _header(task)
    text += "".join(_line(start + i + 1, event) for i, event in enumerate(events))
    path.parent.mkdir(parents=True, exist_ok=True)
    append_text(path, text)


def recorded_count(ws: Workspace, task_id: str) -> int:
    """How many events the audit file already holds (the last line number written)."""
    path = ws.audit_dir / f"{task_id}.md"
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - _TAIL_BYTES))
            tail = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    numbers = _NUMBERED.findall(tail)
    return int(numbers[-1]) if numbers else 0


def _header(task: TaskState) -> str:
    return (
        f"# Audit trail: {task.id}\n\n"
        f"{task.title}\n\n"
        f"Queue `{task.queue}`, card `{task.card}`. Written by aios, append-only: one line per event.\n\n"
    )


def _line(number: int, event: Event) -> str:
    move = f"{event.from_.value if event.from_ else 'created'} → {event.to.value}"
    if event.from_ is event.to:
        move = f"note ({event.to.value})"
    text = f"- #{number} · {event.at} · {move} · by {event.actor} ({actor_kind(event.actor)})"
    if event.reason:
        text += f" · {_one_line(event.reason)}"
    text += "\n"
    text += "".join(f"  - artifact: `{path}`\n" for path in event.artifacts)
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())
