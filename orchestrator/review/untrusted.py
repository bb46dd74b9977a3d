"""Untrusted text for a model's prompt: in a labelled block between markers the text cannot contain.

The TaskCard, the change, commit messages and the output of checks are written by whoever wrote the
change. In a prompt each sits between ``<<<UNTRUSTED label tag>>>`` and ``<<<END UNTRUSTED label
tag>>>``; the prompts (``prompts/review.md``, ``prompts/builder.md``) say that text inside is data.

The tag is derived from the text itself (a digest of it): the text cannot contain its own digest,
so it can neither close its block early nor forge another one, and unlike a random tag it is the
same for the same text, so a recorded run replays and provider prompt caches hit.
"""

from __future__ import annotations

import hashlib

TAG_CHARS = 16


def untrusted(label: str, text: str) -> str:
    """``text`` between markers naming it untrusted ``label``, with a tag the text does not contain.

    Example:
        >>> print(untrusted("TaskCard", "Do X."))  # doctest: +ELLIPSIS
        <<<UNTRUSTED TaskCard ...>>>
        Do X.
        <<<END UNTRUSTED TaskCard ...>>>
    """
    tag = block_tag(text)
    return f"<<<UNTRUSTED {label} {tag}>>>\n{text.rstrip()}\n<<<END UNTRUSTED {label} {tag}>>>"


def block_tag(text: str) -> str:
    """A hex tag, from the digest of ``text``, that does not occur in ``text``."""
    salt = 0
    while True:
        data = f"{salt}:{text}".encode("utf-8", "surrogatepass")
        tag = hashlib.sha256(data).hexdigest()[:TAG_CHARS]
        if tag not in text:
            return tag
        salt += 1  # the text holds this tag (astronomically unlikely, or built to): take the next
