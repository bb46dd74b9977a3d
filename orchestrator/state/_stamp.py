"""The stamp below the task index: how a reader tells aios's own write from a hand edit.

The index's last line is a comment holding the ``sha256`` of the lines above it as aios wrote them
and which queues were locked (``store`` writes it). Light on purpose: ``peek`` checks it without
importing the store.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


STAMP = re.compile(r"^# aios-stamp: (\{.*\})\n?$")


def split(text: str) -> tuple[str, str | None]:
    """The index's lines above its stamp, and the stamp line (None when there is none)."""
    head, sep, last = text.rstrip("\n").rpartition("\n")
    if sep and STAMP.match(last):
        return head + "\n", last
    return text, None


def stamp(text: str) -> dict[str, Any] | None:
    """The stamp aios wrote below the index: ``sha256`` of the lines above, ``locks``, ``frozen``."""
    line = split(text)[1]
    if line is None:
        return None
    try:
        data = json.loads(STAMP.match(line)[1])  # type: ignore[index]
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def edited(text: str) -> bool:
    """Whether the index is not as aios last wrote it (a hand edit, or an index from before stamps)."""
    found = stamp(text)
    return found is None or found.get("sha256") != digest(split(text)[0])
