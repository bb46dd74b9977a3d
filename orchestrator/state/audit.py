"""The audit trail: ``ops/audit/<TASK_ID>.md``, one readable, append-only file per task, and the
governance log ``ops/audit/governance.md`` for actions on no task (a freeze, a queue locked by hand).

Each event of the task becomes one line, numbered by its position in the task's history, so a
commit interrupted after the task file was written can append exactly the missing lines.

Every user-supplied text (title, actor, reason, artifact paths) is written through
``_text.visible``: it cannot start a line of its own or carry a terminal escape sequence, so no
input can forge an event line, and ``cat`` of a trail is safe.

Each event line carries a link of a hash chain, ``- #3 [9f2c41d07be35a18] · <time> · ...``: the
first 16 hex digits of ``sha256(previous link, the event as the task file holds it, the line's
text without the link)`` (``link``); line #1's previous link is the task id. Editing a line's
text, the task file's event, or removing, reordering or inserting lines breaks the chain, and
``audit_chain.verify`` says where. The hash is not keyed: someone who rewrites the task file and
recomputes every later link can forge a consistent trail, which git history still shows; the chain
catches hand edits and lines written outside aios. Trails written before the chain existed have no
links; their lines are reported as "unchained (legacy)", not as tampered, and new lines appended to
them start a chain of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from orchestrator._files import append_text, make_dirs
from orchestrator._text import is_hidden, visible
from orchestrator.errors import PermissionDenied
from orchestrator.redact import redact
from orchestrator.state.records import Event, TaskState, now
from orchestrator.state.workspace import Workspace

#: A complete event line as ``_line`` writes it: number, its chain link (none on a legacy line),
#: time, move (with the event's kind in brackets, ``running → blocked [emergency_stop]``), actor and
#: the actor's kind.
_EVENT_LINE = re.compile(
    r"^- #(\d+)(?: \[([0-9a-f]{16})\])? · \S+ · .+ · by \S.* \((?:agent|human)\)(?: · .*)?\n$"
)
#: The text of an artifact line under an event line; it belongs to the event's block.
ARTIFACT_PREFIX = "  - artifact: "


#: Longer names are refused: an actor is a member name or ``agent:<id>``, not a message.
MAX_ACTOR_LENGTH = 100
_ACTOR_FIX = (
    "pass --actor (or set AIOS_ACTOR) to your member name, or agent:<id> for an agent: "
    f"printable characters only, at most {MAX_ACTOR_LENGTH}"
)


def check_actor(actor: str) -> str:
    """Refuse an actor name that could forge or garble the audit trail; returns it unchanged.

    Every way an actor enters (the CLI's ``--actor``/``AIOS_ACTOR``, each service function that
    records or authorises) calls this, so no caller can write a line break or an escape sequence.

    Raises:
        PermissionDenied: the name is empty, too long, or holds a control or format character.
    """
    shown = visible(actor)
    if not actor.strip():
        raise PermissionDenied("the actor name is empty", fix=_ACTOR_FIX)
    if len(actor) > MAX_ACTOR_LENGTH:
        raise PermissionDenied(f"the actor name is {len(actor)} characters long", fix=_ACTOR_FIX)
    hidden = next((c for c in actor if is_hidden(c)), None)
    if hidden is not None:
        raise PermissionDenied(
            f"the actor name '{shown}' holds a control character, {visible(hidden)} (U+{ord(hidden):04X})",
            fix=_ACTOR_FIX,
        )
    return actor


def actor_kind(actor: str) -> str:
    """``agent`` for ``agent:<id>`` actors, else ``human``."""
    return "agent" if actor.startswith("agent:") else "human"


def append(ws: Workspace, task: TaskState, *, start: int) -> None:
    """Append the task's events from position ``start`` (0-based) to its audit file.

    A file whose last line has no newline was torn by a crash: when the torn text is the start of
    what aios writes there (``_intact``), it is cut off and the events are written whole from the
    last intact line; any other unterminated text is kept, ended by a newline.
    """
    path = ws.audit_file(task.id)
    if task.events[start:] and path.exists() and _after_torn_line(path):
        count, cut = _intact(path, task)
        if cut is not None:
            _truncate(path, cut)
            start = count
    events = task.events[start:]
    if not events:
        return
    exists = path.exists() and path.stat().st_size > 0
    text = _after_torn_line(path) if exists else _header(task)
    prev = (_tip(path, start) if exists and start else None) or task.id
    for i, event in enumerate(events):
        block, prev = chained_line(start + i + 1, event, prev)
        text += block
    path.parent.mkdir(parents=True, exist_ok=True)
    append_text(path, text)


def link(prev: str, event: Event, plain: str) -> str:
    """The chain link of one event line: binds the previous link, the task file's event and ``plain``,
    the line's text (artifact lines included) as written without its link.

    The event's ``seq`` is left out: it is not shown on the line, and `aios state check` asks for a
    seq used twice to be renumbered by hand, a repair that must not read as tampering.
    """
    data = event.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude={"seq"})
    data["from"] = data.get("from")  # required, but None for the creation: always present
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{canonical}\n{plain}".encode()).hexdigest()[:16]


def _tip(path: Path, number: int) -> str | None:
    """The link on line ``#number`` as recovery counts lines (the first in sequence); None when that
    line is missing or a legacy line without a link (a new chain starts then)."""
    with path.open(encoding="utf-8", errors="replace", newline="\n") as fh:
        return _scan(fh, stop=number)[1]


def resume(ws: Workspace, task: TaskState) -> None:
    """Append the events of ``task`` that its trail lacks after an interrupted commit.

    What the crash left half written is cut off first and written again whole (``_intact``): a
    torn last line, or an event line whose artifact lines are missing, would otherwise be counted
    as recorded (``recorded_count`` sees only the line) and break the chain at that line.
    """
    path = ws.audit_file(task.id)
    if not path.exists():
        append(ws, task, start=0)
        return
    count, cut = _intact(path, task)
    if cut is not None:
        _truncate(path, cut)
    append(ws, task, start=count)


def _intact(path: Path, task: TaskState) -> tuple[int, int | None]:
    """How many of ``task``'s events the trail holds intact, and the byte offset to cut it at (None:
    nothing to cut).

    A crash inside an append leaves a prefix of the text aios was writing. So the trail's tail is
    cut only when it is exactly such a prefix: after the last line numbered in sequence when that
    line's block is whole, else at that block's start (its artifact lines torn off). Text that is
    not a prefix of what aios writes (a hand edit, lines from elsewhere) is never cut: ``verify``
    reports it. Reads the whole file: only after a crash.
    """
    data = path.read_bytes()
    count, starts, ends, marks = _sequence(data)
    if count > len(task.events):
        return count, None

    def expected(k: int, *, header: bool = False) -> bytes:
        """What ``append`` writes from event ``k`` on (after line #k)."""
        prev, out = (marks.get(k) if k else None) or task.id, _header(task) if header else ""
        for i, event in enumerate(task.events[k:]):
            block, prev = chained_line(k + i + 1, event, prev)
            out += block
        return out.encode()

    if count == 0:
        return (0, 0) if data and expected(0, header=True).startswith(data) else (0, None)
    prev = (marks.get(count - 1) if count > 1 else None) or task.id
    whole = data[starts[count] : ends[count]] == chained_line(count, task.events[count - 1], prev)[0].encode()
    if whole and expected(count).startswith(data[ends[count] :]):
        return count, (ends[count] if ends[count] < len(data) else None)
    if expected(count - 1).startswith(data[starts[count] :]):
        return count - 1, starts[count]
    return count, None


def _sequence(data: bytes) -> tuple[int, dict[int, int], dict[int, int], dict[int, str | None]]:
    """Event lines numbered 1, 2, 3, ... (as ``_scan`` counts them): how many, and for each its
    block's start and end offsets (its artifact lines included) and its link."""
    count, offset, current = 0, 0, 0
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    marks: dict[int, str | None] = {}
    for raw in data.splitlines(keepends=True):
        line = raw.decode("utf-8", errors="replace")
        if current and line.startswith(ARTIFACT_PREFIX) and line.endswith("\n"):
            ends[current] = offset + len(raw)
        elif line.startswith("- #") and (match := _EVENT_LINE.match(line)) and int(match[1]) == count + 1:
            count = current = count + 1
            starts[count], ends[count], marks[count] = offset, offset + len(raw), match[2]
        else:
            current = 0
        offset += len(raw)
    return count, starts, ends, marks


def _truncate(path: Path, size: int) -> None:
    """Cut the trail back to ``size`` bytes: only ever text a crash left half written (``_intact``)."""
    with path.open("r+b") as fh:
        fh.truncate(size)
        os.fsync(fh.fileno())


def recorded_count(ws: Workspace, task_id: str) -> int:
    """How many events the audit file holds: its well-formed event lines numbered 1, 2, 3, ...

    A line that is torn (no newline), malformed or out of sequence is not counted, so nothing a
    crash or a hand edit leaves behind can make recovery skip the events still missing. The whole
    file is scanned: it is only read when recovering an interrupted commit (about 60 ms for
    100,000 lines).
    """
    path = ws.audit_file(task_id)
    try:
        with path.open(encoding="utf-8", errors="replace", newline="\n") as fh:
            return _count(fh)
    except FileNotFoundError:
        return 0


def _count(lines: Iterable[str]) -> int:
    return _scan(lines)[0]


def _scan(lines: Iterable[str], *, stop: int = 0) -> tuple[int, str | None]:
    """Well-formed event lines numbered 1, 2, 3, ... and the link of the last (up to ``stop``)."""
    count, tip = 0, None
    for line in lines:
        if line.startswith("- #") and (match := _EVENT_LINE.match(line)) and int(match[1]) == count + 1:
            count, tip = count + 1, match[2]
            if count == stop:
                break
    return count, tip


def _after_torn_line(path: Path) -> str:
    """A newline to end the file's last line first, if a crash left it without one."""
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return ""
        fh.seek(-1, 2)
        return "" if fh.read(1) == b"\n" else "\n"


def _header(task: TaskState) -> str:
    return (
        f"# Audit trail: {task.id}\n\n"
        f"{visible(task.title)}\n\n"
        f"Queue `{visible(task.queue)}`, card `{visible(task.card)}`. "
        "Written by aios, append-only: one line per event.\n\n"
    )


def chained_line(number: int, event: Event, prev: str) -> tuple[str, str]:
    """The event's block (its line and artifact lines) carrying its chain link, and the link."""
    plain = _line(number, event)
    mark = link(prev, event, plain)
    return with_link(plain, number, mark), mark


def with_link(plain: str, number: int, mark: str) -> str:
    """``plain`` (``- #3 · ...``) with ``mark`` after its number (``- #3 [mark] · ...``)."""
    head = f"- #{number} "
    return f"{head}[{mark}] {plain[len(head) :]}"


def _line(number: int, event: Event) -> str:
    """The event's block without its chain link, as trails written before the chain show it."""
    move = f"{event.from_.value if event.from_ else 'created'} → {event.to.value}"
    if event.from_ is event.to:
        move = f"note ({event.to.value})"
    if event.kind is not None:
        move += f" [{event.kind.value}]"
    actor = visible(event.actor)
    text = f"- #{number} · {event.at} · {move} · by {actor} ({actor_kind(event.actor)})"
    if event.session:
        text += f" · session {visible(event.session)}"
    if event.reason:
        text += f" · {_one_line(event.reason)}"
    text += "\n"
    text += "".join(f"  - artifact: `{visible(path)}`\n" for path in event.artifacts)
    return text


def _one_line(text: str) -> str:
    # Line breaks and runs of whitespace are layout, kept as one space; any other control is escaped.
    return visible(" ".join(text.split()))


_GOVERNANCE_HEADER = (
    "# Governance log\n\n"
    "Governance actions on no single task: members, agents, sessions, freezes, queue locks and "
    "hand edits of the task index, and refusals. Written by aios, append-only: one line per action.\n\n"
)


def append_governance(ws: Workspace, text: str) -> None:
    """Append ``- <time> · <text>`` to ``ops/audit/governance.md`` (created with a header).

    The file is append-only like a task's trail, and ``text`` is written on one line, redacted and
    with its control characters escaped, so no name or reason can forge a line or leak a secret.

    Example:
        ``append_governance(ws, "alice (human) · member add bob: operator (L3)")`` appends
        ``- 2026-01-02T03:04:05.678Z · alice (human) · member add bob: operator (L3)``.
    """
    path = ws.governance_log
    head = _after_torn_line(path) if path.exists() else _GOVERNANCE_HEADER
    make_dirs(path.parent)
    append_text(path, f"{head}- {now()} · {_one_line(redact(text))}\n")


def record_queue_locks(ws: Workspace, names: list[str], *, verb: str, actor: str, reason: str | None) -> None:
    """Append one line to ``ops/freeze/queue-locks.md``, the history of queue locks."""
    # Queue locks are not task events; ops/freeze/ keeps their history, as the operating model asks.
    path = ws.queue_locks_file
    path.parent.mkdir(parents=True, exist_ok=True)
    why = f" · {_one_line(reason)}" if reason else ""
    append_text(path, f"- {now()} · {', '.join(names)} {verb} by {visible(actor)}{why}\n")


#: A freeze record's file name, ``FREEZE-2026-12-06T05-59-00Z.md`` (``-2`` ... when one exists).
FREEZE_RECORD = re.compile(r"^FREEZE-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(?:-\d+)?\.md$")


def append_freeze_lifted(ws: Workspace, record: str, *, actor: str, reason: str | None) -> None:
    """Append who lifted a freeze, and when, to its record in ``ops/freeze/`` (if it is one)."""
    path = ws.freeze_dir / Path(record).name  # never outside ops/freeze/, whatever the index says
    if not FREEZE_RECORD.match(path.name) or not path.is_file():
        return
    why = f" · {_one_line(reason)}" if reason else ""
    append_text(path, _after_torn_line(path) + f"- {now()} · lifted by {visible(actor)}{why}\n")
