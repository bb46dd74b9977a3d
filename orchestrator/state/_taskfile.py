"""A task file read or written again without YAML: the texts this process last saw, remembered.

A transition reads one task file and writes it back with one more event. Through PyYAML both
grow with the task's history (about 40 µs an event each way). So, per file, the last text this
process read or wrote is kept with the task as JSON (pydantic reads it back in microseconds) and,
for a text it wrote, each event's rendered lines:

- ``read`` gives the task from memory while the file still holds exactly that text (compared
  whole: any edit, by hand or by another process, in whatever clock tick, is read from the file);
- ``render`` is ``TaskState.to_yaml`` with each event's lines reused while the event is equal to
  the one they were rendered from: a new event is rendered alone (a flow mapping in a block list
  renders the same wherever it stands), the few fields above the events are rendered afresh.

Only the most recently used files are kept (``KEEP``), so a long-running server stays small.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import _yaml
from orchestrator.state.records import Event, TaskState

#: How many task files are remembered (each a few KB).
KEEP = 256
#: Each event and the YAML lines it renders to (``- {seq: 1, ...}\n``).
Chunks = list[tuple[Event, str]]


@dataclass
class _Seen:
    text: str
    json: str
    chunks: Chunks = field(default_factory=list)


_seen: OrderedDict[str, _Seen] = OrderedDict()
_guard = threading.Lock()  # the web server reads from several threads


def read(path: Path, text: str, parse: Callable[[], TaskState]) -> TaskState:
    """The task in ``text`` (the file's text, just read): from memory if this process last saw
    that very text, else ``parse()`` (validating, with errors naming the file), remembered."""
    key = str(path)
    seen = _seen.get(key)
    if seen is not None and seen.text == text:
        with _guard:
            _seen.move_to_end(key)
        return TaskState.model_validate_json(seen.json)
    task = parse()
    _keep(key, _Seen(text, task.model_dump_json(by_alias=True)))
    return task


def render(path: Path, task: TaskState) -> tuple[str, Chunks]:
    """``task.to_yaml()``, reusing the lines of each event rendered for ``path`` before."""
    seen = _seen.get(str(path))
    old = seen.chunks if seen is not None else []
    chunks: Chunks = []
    for i, event in enumerate(task.events):
        if i < len(old) and old[i][0] == event:
            chunks.append(old[i])
        else:  # a copy: the caller's event may change later, the rendered lines would not
            chunks.append((event.model_copy(deep=True), _event_yaml(event)))
    # Rendered with an empty event list, as the whole task is: a mapping holding only scalars
    # would be written in flow style (`{id: ..., ...}`).
    head = task.model_dump(mode="json", by_alias=True, exclude={"events"}) | {"events": []}
    text = str(_yaml.dump(head, flow_leaves=True))
    if chunks:
        text = text.removesuffix("events: []\n") + "events:\n" + "".join(lines for _, lines in chunks)
    return text, chunks


def written(path: Path, text: str, task: TaskState, chunks: Chunks) -> None:
    """Remember that ``path`` now holds ``text``, rendered from ``task`` by ``render``."""
    _keep(str(path), _Seen(text, task.model_dump_json(by_alias=True), chunks))


def _event_yaml(event: Event) -> str:
    data = event.model_dump(mode="json", by_alias=True)
    # As ``TaskState.to_yaml``: task files stay as they were for ordinary events.
    for key, empty in (("artifacts", []), ("session", None), ("kind", None)):
        if data[key] == empty:
            del data[key]
    return str(_yaml.dump([data], flow_leaves=True))


def _keep(key: str, seen: _Seen) -> None:
    with _guard:
        _seen[key] = seen
        _seen.move_to_end(key)
        while len(_seen) > KEEP:
            _seen.popitem(last=False)
