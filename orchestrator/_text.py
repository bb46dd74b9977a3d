"""Text from users and models made harmless to write on one line or print to a terminal.

A reason, actor, title or finding can hold a newline (a forged audit line), ESC (a terminal
escape sequence that clears the screen or retitles the window), a C1 control (``\\x9b`` is CSI on
some terminals), ``\\r`` or backspace (overprinting) or a bidi override (text that reads other
than it runs). ``visible`` shows each such character as an escape instead of passing it on.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

#: Unicode categories shown escaped: controls, formats (bidi overrides, zero-width), surrogates,
#: private use, unassigned, and the line/paragraph separators that ``str.splitlines`` breaks on.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_hidden(char: str) -> bool:
    """Whether ``char`` is a control, format or separator character that ``visible`` escapes."""
    return unicodedata.category(char) in _HIDDEN


def visible(text: str, *, keep: str = "") -> str:
    """``text`` with every control, format and separator character written as an escape.

    Args:
        text: untrusted text.
        keep: characters to pass through (``"\\n\\t"`` for a multi-line block such as a diff).

    Example:
        >>> visible("ok\\x1b[2Jgone\\nnext")
        'ok\\\\x1b[2Jgone\\\\nnext'
    """
    if text.isprintable():  # the common case: nothing to do (isprintable is False for \n too)
        return text
    return "".join(c if c in keep or not is_hidden(c) else _escape(c) for c in text)


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def map_strings(data: Any, change: Callable[[str], str]) -> Any:
    """JSON-like ``data`` with ``change`` applied to every string; mapping keys are kept."""
    if isinstance(data, str):
        return change(data)
    if isinstance(data, dict):
        return {k: map_strings(v, change) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [map_strings(v, change) for v in data]
    return data
