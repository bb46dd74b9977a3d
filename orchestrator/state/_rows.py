"""What the scan cache keeps of each task file, and the version of the code that derives it.

Light on purpose (no pydantic, no YAML): ``state.peek`` reads a task's row for ``aios task
status`` without importing what derived it; ``state.scan`` derives and writes the rows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from orchestrator.state._cache import source_digest

#: The kinds of row: a file's facts; the task itself (``TaskState`` as JSON, by alias); its facts
#: with the verdict on its trail (for ``state check``), kept under both files' keys.
FACTS, TASK, CHECKED = "task-facts", "task", "task-checked"
#: How many values a file's facts hold (``scan._facts_json``: id, status, queue, priority, title, ...).
FACTS_LENGTH = 9
#: The live tasks' list entries read from the index, with each task file's recorded mtime (``peek``).
LIVE = "index-live"

_PACKAGE = Path(__file__).resolve().parent.parent
#: The modules whose code derives the rows (named by path: computing the version imports none).
_DERIVED_BY = (
    "_yaml.py",
    "state/audit.py",
    "state/audit_chain.py",
    "state/history.py",
    "state/lifecycle.py",
    "state/records.py",
    "state/scan.py",
)


def versions() -> dict[str, str]:
    """The version of each kind of row: editing the code deriving it, or upgrading pydantic (which
    validates and dumps the tasks), drops the rows."""
    files = [str(_PACKAGE / name) for name in _DERIVED_BY]
    spec = importlib.util.find_spec("pydantic")  # finds the package without importing it
    if spec is not None and spec.origin is not None:
        files.append(str(Path(spec.origin).parent / "version.py"))
    tasks = source_digest(*files)
    return {FACTS: tasks, TASK: tasks, CHECKED: tasks, LIVE: source_digest(*_live_sources())}


def _live_sources() -> list[str]:
    return [str(_PACKAGE / name) for name in ("_yaml.py", "state/_stamp.py", "state/peek.py")]
