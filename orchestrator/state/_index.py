"""The text of ``state/tasks.yaml``: one line per queue and live task, a stamp, and a fast way back.

A transition changes one or two entries of an index that may list thousands of live tasks, so
nothing here costs a parse or a render per entry once the text is known:

- ``render`` renders only the entries it has no line for: a line is reused while its entry is
  the very object it was rendered from (entries are frozen models, so a changed entry is a new
  object), and the rest of the work is joining strings and one hash;
- ``Known`` remembers, per index file, the last text this process read or wrote with its parsed
  index and lines. It is keyed by the text itself (a string comparison, not a stat: a hand edit
  in the same clock tick is still seen), so it can never answer for other text;
- a text this process has not seen (another process wrote it) whose stamp says aios wrote it is
  read back by ``parse_fast``, one regular expression per task line (libyaml took 15 ms per
  1,000 live tasks); a hand-edited text, or one this module does not recognise line by line,
  goes through the YAML loader, whose errors name the line.

The stamp is the index's last line: a comment holding the hash of the lines above it as aios
wrote them and which queues were locked, so a hand edit is told from aios's own writes.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from orchestrator import _yaml
from orchestrator.errors import AiosError
from orchestrator.state._stamp import digest, split  # the stamp itself: light, `peek` reads it too
from orchestrator.state.records import Index, IndexEntry

#: tid -> (the entry, its rendered line): the lines ``render`` may reuse.
Lines = dict[str, tuple[IndexEntry, str]]

HEADER = """\
# Task index, derived from state/tasks/*.yaml; `aios state rebuild` regenerates it.
# Task status lives in state/tasks/<TASK_ID>.yaml: change it there or with `aios task ...`.
# Emergency stop of a queue by hand: set it to SYSTEM_LOCK (e.g. `  dev: SYSTEM_LOCK`).
# Emergency stop of a task by hand: set its `status: blocked` here (add `event: emergency_stop`
# and `reason: ...` if you like); the next aios command records it on the task's audit trail.
"""


def stamp_line(body: str, index: Index) -> str:
    data = {
        "sha256": digest(body),
        "locks": sorted(name for name, q in index.queues.items() if q.lock),
        "frozen": index.frozen.record if index.frozen else None,
    }
    return f"# aios-stamp: {json.dumps(data)}\n"


# ---- rendering ----


def render_index(index: Index) -> str:
    """The index as YAML, one flow-style line per queue and per live task, stamped.

    Hand-rolled because PyYAML's dumper took 11 ms for 200 live tasks; this is one f-string a line.
    """
    return render(index, {})[0]


def render(index: Index, lines: Lines) -> tuple[str, Lines]:
    """``render_index``, reusing the line of each entry that is still the object in ``lines``;
    returns the text and the lines it holds."""
    out: Lines = {}
    for tid in sorted(index.tasks):
        entry = index.tasks[tid]
        hit = lines.get(tid)
        out[tid] = hit if hit is not None and hit[0] is entry else (entry, _task_line(tid, entry))
    head = [
        HEADER.rstrip("\n"),
        "schema_version: 1",
        *([f"frozen: {_flow(index.frozen.model_dump(exclude_none=True))}"] if index.frozen else []),
        f"seq: {index.seq}",
        f"next_number: {_flow(index.next_number)}",
        "queues:",
        *(f"  {name}: {_flow(q.model_dump(exclude_none=True))}" for name, q in index.queues.items()),
        "tasks:" if out else "tasks: {}",
    ]
    body = "\n".join(head + [line for _, line in out.values()]) + "\n"
    return body + stamp_line(body, index), out


def _task_line(tid: str, entry: IndexEntry) -> str:
    # `event` and `reason` come only from a hand edit, which is recorded on the task's trail.
    return f"  {tid}: {_flow(entry.model_dump(mode='json', exclude={'event', 'reason'}))}"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


# ---- parsing aios's own text back ----

# A scalar as `_flow` writes a string: plain, or a JSON string (no raw newline: JSON escapes it).
_SCALAR = r'[A-Za-z_][A-Za-z0-9_./-]*|"(?:[^"\\\n]|\\.)*"'
_TASK_LINE = re.compile(
    rf"  (TASK_[A-Z0-9_]+): \{{status: ([a-z_]+), queue: ({_SCALAR}), priority: (-?[0-9]+), "
    rf"title: ({_SCALAR}), mtime: ([0-9]+)\}}"
)


def parse_fast(text: str) -> tuple[Index, Lines] | None:
    """The index in ``text`` as aios renders it, without YAML for its task lines; None when a line
    is not in that form (the caller then loads it as YAML, which names what is wrong)."""
    body, _ = split(text)
    head, sep, rest = body.partition("\ntasks:")
    if not sep or re.search(r"(?m)^(?:queues|frozen)\s*:", rest):
        return None
    try:
        index = Index.model_validate(_yaml.load(head + "\n", file="state/tasks.yaml") or {})
    except (AiosError, ValueError):  # any doubt: the YAML path reads it and says what is wrong
        return None
    lines = _task_lines(rest)
    if lines is None:
        return None
    index.tasks = {tid: entry for tid, (entry, _) in lines.items()}
    return index, lines


def _task_lines(rest: str) -> Lines | None:
    if rest == " {}\n":
        return {}
    if not rest.startswith("\n"):
        return None
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for line in rest[1:].splitlines():
        match = _TASK_LINE.fullmatch(line)
        if match is None or match[1] in found:
            return None
        fields = {"status": match[2], "queue": _scalar(match[3]), "priority": int(match[4])}
        found[match[1]] = (line, {**fields, "title": _scalar(match[5]), "mtime": int(match[6])})
    try:  # one validation of them all: a thousand model constructions from Python cost ten times more
        entries = _ENTRIES.validate_python({tid: data for tid, (_, data) in found.items()})
    except ValueError:
        return None
    return {tid: (entries[tid], line) for tid, (line, _) in found.items()}


_ENTRIES = TypeAdapter(dict[str, IndexEntry])


def _scalar(text: str) -> str:
    if not text.startswith('"'):
        return text
    # A JSON string without a backslash holds its characters as they are.
    return text[1:-1] if "\\" not in text else str(json.loads(text))


# ---- the texts this process knows ----


@dataclass(frozen=True)
class Known:
    """An index text this process read or wrote, parsed; its index is never handed out (``copy``)."""

    text: str
    digest: str
    """``digest(text)``: what a transaction compares the file with before it writes."""
    index: Index
    edited: bool
    lines: Lines = field(default_factory=dict)


_known: dict[str, Known] = {}
_guard = threading.Lock()  # the web server reads from several threads


def recall(path: str, text: str) -> Known | None:
    """What is known of ``text``, if it is the last text remembered for ``path``."""
    known = _known.get(path)
    return known if known is not None and known.text == text else None


def remember(path: str, text: str, index: Index, *, edited: bool, lines: Lines | None = None) -> None:
    """Keep ``index`` (a copy) as what ``text``, now the text of ``path``, holds."""
    with _guard:
        _known[path] = Known(text, digest(text), copy(index), edited, lines or {})


def lines_of(path: str) -> Lines:
    """The rendered lines last known for ``path`` (valid whatever its text now: keyed by entry)."""
    known = _known.get(path)
    return known.lines if known is not None else {}


def copy(index: Index) -> Index:
    """A copy of ``index`` that may be changed freely; its entries (frozen) are shared."""
    return Index.model_construct(
        schema_version=1,
        frozen=index.frozen.model_copy(deep=True) if index.frozen else None,
        seq=index.seq,
        next_number=dict(index.next_number),
        queues={name: q.model_copy(deep=True) for name, q in index.queues.items()},
        tasks=dict(index.tasks),
    )
