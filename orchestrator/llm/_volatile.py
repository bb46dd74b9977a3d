"""What differs between two runs of the same review and must not decide a replay match.

A run in another workspace makes other commits (ids), at other times (dates, durations), at
another path (the workspace root, temp dirs, a home directory). ``normalise`` replaces each of
these with a placeholder in every string of a request, so a recording replays anywhere while a
change in what the model is actually told still shows as a mismatch.

``normalise`` is applied to both sides at compare time, so recordings made before it existed
(the shipped demo) keep replaying. The workspace root is only known where the request is made:
the recorder writes it as ``<workspace>`` and the replay replaces the current root the same way.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator._text import map_strings

WORKSPACE = "<workspace>"

# A path runs until whitespace, a quote or punctuation that ends it in tracebacks and tool output
# (`File "/tmp/x.py", line 3`, `/tmp/x.py:13: AssertionError`).
_PATH_TAIL = r"[^\s'\"`:,;()\[\]<>]*"
#: Temp directories: the usual ones, and this machine's ($TMPDIR) when it is elsewhere.
_TEMP_DIRS = ("/tmp", "/var/tmp", tempfile.gettempdir())  # noqa: S108 (patterns, not files)
_TEMP = re.compile(
    rf"(?:/private)?/var/folders/{_PATH_TAIL}"
    rf"|(?:{'|'.join(re.escape(d.rstrip('/')) for d in _TEMP_DIRS if d.rstrip('/'))})"
    rf"(?:/{_PATH_TAIL})?(?![\w.-])"
)
_HOME = re.compile(r"/(?:home|Users)/[^/\s'\"`:]+|/root(?=/|(?![\w.-]))")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"
)
_DURATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ms|µs|us|ns|s|secs?|seconds?)(?![\w])")
# A commit range or a named commit may be all digits; a lone id must mix digits and letters, so
# numbers and words (``deadbeef``, ``1234567``) stay as they are.
_SHA = r"[0-9a-f]{7,40}"
_SHA_RANGE = re.compile(rf"\b{_SHA}(\.\.\.?){_SHA}\b")
_SHA_NAMED = re.compile(rf"(?i)\b(commit|revision|head|base)(\s+){_SHA}\b")
_SHA_LONE = re.compile(r"(?<![\w-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?![\w-])")

#: Applied in this order: paths first (a temp dir name may hold hex or digits), ids last.
_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_TEMP, "<tmp>"),
    (_HOME, "~"),
    (_UUID, "<uuid>"),
    (_TIMESTAMP, "<time>"),
    (_SHA_RANGE, lambda m: f"<sha>{m.group(1)}<sha>"),
    (_SHA_NAMED, lambda m: f"{m.group(1)}{m.group(2)}<sha>"),
    (_SHA_LONE, "<sha>"),
    (_DURATION, "<duration>"),
)


def normalise_text(text: str) -> str:
    """``text`` with commit ids, times, durations and temp/home paths replaced by placeholders.

    Example:
        normalise_text("a1b2c3d..e4f5a6b in 0.53s")  # -> "<sha>..<sha> in <duration>"
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def normalise(data: Any, *, root: Path | None = None) -> Any:
    """``data`` (JSON-like) with the workspace ``root`` as ``<workspace>`` and every string normalised."""
    return map_strings(with_root_placeholder(data, root), normalise_text)


def with_root_placeholder(data: Any, root: Path | None) -> Any:
    """``data`` with the workspace ``root`` (as given and resolved) written as ``<workspace>``."""
    spellings = {str(root), str(root.resolve())} - {"/", "."} if root is not None else set()
    if not spellings:
        return data
    choices = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))  # longest first
    pattern = re.compile(rf"(?:{choices})(?![\w.-])")
    return map_strings(data, lambda s: pattern.sub(WORKSPACE, s))
