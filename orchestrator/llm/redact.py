"""Scrub anything that looks like a secret from text before it is written or shown.

Recordings, logs and error bodies pass through here: a key pasted into a prompt, echoed by a
server or sitting in an environment variable must never reach a file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

#: Environment variables whose values are always scrubbed (plus any a model's settings name).
KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AIOS_API_KEY")
MASK = "[REDACTED]"

_PATTERNS = [
    re.compile(r"sk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_\-]{16,}"),  # OpenAI / Anthropic keys
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),  # Slack tokens
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),  # Google API keys
]
# ``api_key = "..."``, ``"password": "..."``: keep the name, hide the value.
_ASSIGNMENT = re.compile(
    r"""(?i)((?:api[_-]?key|secret|token|password|passwd|authorization)["']?\s*[:=]\s*["']?)([^\s"',;]{8,})"""
)


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Values of the key variables that are set now (8+ characters, so short values stay readable)."""
    names = {*KEY_VARIABLES, *extra}
    return [v for v in (os.environ.get(n, "") for n in names) if len(v) >= 8]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and anything shaped like a key replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return _ASSIGNMENT.sub(lambda m: m.group(1) + MASK, text)


def redact_data(data: Any, secrets: Iterable[str] = ()) -> Any:
    """``data`` (JSON-like) with every string redacted; keys of mappings are kept."""
    secrets = list(secrets)
    if isinstance(data, str):
        return redact(data, secrets)
    if isinstance(data, dict):
        return {k: redact_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_data(v, secrets) for v in data]
    return data


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs each record's message: the SDKs log whole request bodies at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, known_secrets())
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()


def install_log_filter(*logger_names: str) -> None:
    """Scrub the records of these loggers (a logger's filters see only its own records, so name each)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
