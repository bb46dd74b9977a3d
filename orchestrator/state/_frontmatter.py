"""Governance records on disk: dated Markdown files with YAML front matter, one folder per kind.

The decision log, proposals and deviations (``ops/decision-log/``, ``ops/proposals/``,
``ops/deviations/``) share this shape, so a person reads each with ``cat`` and aios validates
each on load with a pydantic model (``extra="forbid"``: a misspelt key is an error naming the
file, line and the keys known there)::

    ---
    id: DEV-0001
    at: '2026-12-06T10:00:00.000Z'
    ...
    ---
    Free Markdown.

A record's file is ``<date>-<ID>.md`` (``2026-12-06-DEV-0001.md``), so ``ls`` lists a folder in
the order things happened. A new record is created exclusively (``os.link`` of a complete
temporary file, which fails if the name is taken), so two processes never write the same id;
a change (a proposal decided, a deviation resolved) replaces the file atomically.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from orchestrator import _yaml
from orchestrator._files import make_dirs, os_error, read_text
from orchestrator.errors import StateError
from orchestrator.state.taskcard import TASK_ID

_FENCE = "---"


def _task_id(value: str) -> str:
    if not TASK_ID.match(value):
        raise ValueError(f"{value!r} is not a task id: use TASK_<QUEUE>_<NNNN>, e.g. TASK_DEV_0001")
    return value


TaskId = Annotated[str, AfterValidator(_task_id)]
"""A task id in a record (``tasks: [TASK_DEV_0001]``)."""


class Record(BaseModel):
    """What every record has: an id, when and by whom it was written, and a Markdown body."""

    model_config = ConfigDict(extra="forbid")

    id: str
    at: str
    """When it was written (ISO 8601, UTC)."""
    by: str
    """Who wrote it: a member name."""
    body: str = ""
    """The Markdown after the front matter (not a front-matter key)."""


R = TypeVar("R", bound=Record)


def parse(model: type[R], text: str, *, file: str | Path) -> R:
    """Parse a record's text into ``model``.

    Raises:
        StateError: no front matter, bad YAML, an unknown or missing key or a bad value; names the
            file, the line and the fix.
    """
    front, body = _split(text, file)
    data = _yaml.load(front, file=file, error=StateError, line_offset=1)
    if not isinstance(data, dict):
        raise StateError(
            "the front matter must be a YAML mapping of fields",
            file=file,
            line=2,
            fix="write `key: value` lines between the two --- lines",
        )
    if "body" in data:
        line = _yaml.key_lines(front).get(("body",))
        raise StateError(
            "unknown field",
            file=file,
            field="body",
            line=line + 1 if line else None,
            fix="put the text after the closing ---",
        )
    try:
        return _yaml.validate(
            model, {**data, "body": body}, file=file, text=front, error=StateError, line_offset=1
        )
    except StateError as exc:
        exc.line = exc.line or 2  # a missing key: point at the front matter
        raise


def validated(model: type[R], data: dict[str, Any], *, file: str = "command line") -> R:
    """``data`` (from the command line) as ``model``; a bad value is a ``StateError`` naming the field."""
    return _yaml.validate(model, data, file=file, error=StateError)


def render(record: Record) -> str:
    """The record as Markdown with front matter; ``parse(type(r), render(r)) == r``."""
    data = record.model_dump(mode="json", exclude={"body"})
    body = record.body if record.body.endswith("\n") or not record.body else record.body + "\n"
    return f"{_FENCE}\n{_yaml.dump(data)}{_FENCE}\n{body}"


def _split(text: str, file: str | Path) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise StateError(
            "a record must start with YAML front matter between --- lines",
            file=file,
            line=1,
            fix="put `---` on the first line, the fields, then `---` and the text",
        )
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == _FENCE:
            return "".join(lines[1:i]), "".join(lines[i + 1 :]).lstrip("\n")
    raise StateError(
        "the front matter is never closed", file=file, line=1, fix="add a line `---` after the last field"
    )


# ---- a folder of records ----


def file_name(record: Record) -> str:
    """``2026-12-06-DEV-0001.md``: the date it was written, then its id."""
    return f"{record.at[:10]}-{record.id}.md"


def paths(folder: Path, prefix: str) -> list[Path]:
    """The folder's record files of ``prefix`` (``DEV``), in id order."""
    pattern = re.compile(rf"^\d{{4}}-\d\d-\d\d-{prefix}-(\d+)\.md$")
    found = [(int(m[1]), p) for p in folder.glob(f"*-{prefix}-*.md") if (m := pattern.match(p.name))]
    return [p for _, p in sorted(found)]


def find(folder: Path, record_id: str) -> Path | None:
    """The file holding ``record_id``, or None."""
    matches = sorted(folder.glob(f"*-{record_id}.md")) if re.fullmatch(r"[A-Z]+-\d+", record_id) else []
    return matches[0] if matches else None


def load(model: type[R], path: Path, *, rel: str) -> R:
    """Read and validate one record file (``rel`` names it in errors); its id must match its name."""
    text = read_text(path, error=StateError, file=rel)
    record = parse(model, text, file=rel)
    if not path.stem.endswith(f"-{record.id}"):
        line = _yaml.key_lines(_split(text, rel)[0]).get(("id",))
        raise StateError(
            f"the file's name says {path.stem[11:]}, but its id is {record.id}",
            file=rel,
            field="id",
            line=line + 1 if line else None,
            fix=f"restore the id to {path.stem[11:]}: a record's id never changes",
        )
    return record


def create(folder: Path, prefix: str, make: Callable[[str], R]) -> tuple[R, Path]:
    """Write a new record with the next free ``<prefix>-NNNN`` id; ``make(id)`` builds it.

    Exclusive: a complete temporary file is hard-linked to the record's name, which fails when the
    name is taken (another process wrote that id first); the next number is tried then.
    """
    make_dirs(folder)
    existing = paths(folder, prefix)
    number = int(existing[-1].stem.rsplit("-", 1)[1]) if existing else 0
    while True:
        number += 1
        record = make(f"{prefix}-{number:04d}")
        if find(folder, record.id) is None and _link_new(folder / file_name(record), render(record)):
            return record, folder / file_name(record)


def _link_new(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` unless it exists (False then)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise os_error(exc, path) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return True


def all_records(model: type[R], folder: Path, prefix: str, *, rel: Callable[[Path], str]) -> list[R]:
    """Every record of the folder, validated (the first broken one raises ``StateError``)."""
    return [load(model, p, rel=rel(p)) for p in paths(folder, prefix)]


def problems(model: type[Any], folder: Path, prefix: str, *, rel: Callable[[Path], str]) -> list[StateError]:
    """Each broken record of the folder, as an error (for ``aios policy check``)."""
    found: list[StateError] = []
    for path in paths(folder, prefix):
        try:
            load(model, path, rel=rel(path))
        except StateError as exc:
            found.append(exc)
    return found
