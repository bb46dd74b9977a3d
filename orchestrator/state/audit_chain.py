"""Verify a task's audit trail against its task file: unaudited events, altered lines, numbering.

``audit`` writes each event line with a chain link (see its docstring); ``verify`` walks a trail
once, recomputing each link from the previous one, the task file's event and the line's text:

- **unaudited**: an event of the task file with no line on the trail (a state change made
  outside aios, or a trail cut short);
- **altered**: a line whose text, or whose event in the task file, changed after it was written
  (its link no longer matches), a line for an event the task file does not hold, or a line whose
  link was removed after the chain began;
- **numbering**: a line repeated or out of order;
- **unchained (legacy)**: lines written before the chain existed. They are reported apart, never as
  tampering: nothing shows whether they were edited. New lines appended to such a trail start a
  chain of their own, so its later history is tamper-evident.

One read and one hash per line (about 10 µs a line): ``health`` runs it over every task.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.errors import StateError
from orchestrator.state.audit import _EVENT_LINE, ARTIFACT_PREFIX, link
from orchestrator.state.records import TaskState
from orchestrator.state.workspace import Workspace


@dataclass
class TrailReport:
    """What ``verify`` found on one task's trail (numbers are the trail's ``#N``, 1-based)."""

    task: str
    legacy: int = 0
    """Lines written before the chain existed: unchained (legacy), not evidence of tampering."""
    unaudited: list[int] = field(default_factory=list)
    """Events of the task file with no line on the trail."""
    altered: list[tuple[int, str]] = field(default_factory=list)
    """Lines that no longer match (their number, and why)."""
    numbering: list[tuple[int, str]] = field(default_factory=list)
    """Lines repeated or out of order (the number they carry, and why)."""

    @property
    def ok(self) -> bool:
        """Nothing unaudited, altered or misnumbered (legacy lines are fine)."""
        return not (self.unaudited or self.altered or self.numbering)


@dataclass
class _Block:
    number: int
    mark: str | None
    lines: list[str]


def verify(ws: Workspace, task: TaskState, *, pending: bool = False) -> TrailReport:
    """Check ``task``'s trail; ``pending``: an interrupted commit the next write recovers, so its
    last events may still lack their lines."""
    try:
        with ws.audit_file(task.id).open(encoding="utf-8", errors="replace", newline="\n") as fh:
            return verify_lines(task, fh, pending=pending)
    except FileNotFoundError:
        return verify_lines(task, [], pending=pending)


def verify_lines(task: TaskState, lines: Iterable[str], *, pending: bool = False) -> TrailReport:
    """``verify`` on the trail's lines (kept ends)."""
    report = TrailReport(task.id)
    expected, prev, chained = 1, task.id, False
    for block in _blocks(lines):
        if block.number < expected:
            report.numbering.append((block.number, f"comes after #{expected - 1}: a repeated or moved line"))
            continue
        if block.number > expected:
            report.unaudited.extend(range(expected, min(block.number, len(task.events) + 1)))
            expected = block.number
        expected += 1
        if block.number > len(task.events):
            report.altered.append((block.number, f"the task file holds only {len(task.events)} events"))
            continue
        if block.mark is None:
            if chained:
                report.altered.append((block.number, "its chain link was removed"))
            else:
                report.legacy += 1
            continue
        plain = "".join(block.lines).replace(f" [{block.mark}]", "", 1)
        if link(prev, task.events[block.number - 1], plain) != block.mark:
            report.altered.append((block.number, _ALTERED))
        prev, chained = block.mark, True
    if not pending:
        report.unaudited.extend(range(expected, len(task.events) + 1))
    return report


#: Either side may have been edited; a line rewritten with a recomputed link shows on the next line.
_ALTERED = "its text, or its event in the task file, changed after it was written (or the line before it did)"


def _blocks(lines: Iterable[str]) -> Iterable[_Block]:
    """Event lines with the artifact lines under them; everything else (header, torn lines) skipped."""
    current: _Block | None = None
    for line in lines:
        if current is not None and line.startswith(ARTIFACT_PREFIX) and line.endswith("\n"):
            current.lines.append(line)
            continue
        if current is not None:
            yield current
            current = None
        if line.startswith("- #") and (match := _EVENT_LINE.match(line)):
            current = _Block(int(match[1]), match[2], [line])
    if current is not None:
        yield current


def problems(ws: Workspace, report: TrailReport) -> list[StateError]:
    """``report`` as errors naming the trail, the line and the fix (legacy lines are not errors)."""
    if report.ok:
        return []  # the common case: no paths to work out (two stats each, for 50,000 trails)
    trail, card = ws.rel(ws.audit_file(report.task)), ws.rel(ws.task_file(report.task))
    restore = f"`git log -p {trail}` shows who changed what; the trail is append-only: restore it from git"
    found = [
        StateError(
            f"line #{n} is altered: {why}",
            file=trail,
            field=f"#{n}",
            fix=f"compare it with event {n} in {card}; {restore} (and the task file, if that was edited)",
        )
        for n, why in report.altered
    ]
    found += [
        StateError(f"line #{n} {why}", file=trail, field=f"#{n}", fix=restore) for n, why in report.numbering
    ]
    if report.unaudited:
        found.append(
            StateError(
                f"unaudited: {_events(report.unaudited)} of {card} have no line on the trail",
                file=trail,
                fix=f"a state change made outside aios, or a trail cut short: {restore}; "
                f"compare {card} with its git history",
            )
        )
    return found


def _events(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"event {numbers[0]}"
    shown = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
    return f"events {shown}"
