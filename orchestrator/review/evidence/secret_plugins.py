"""detect-secrets plugins for current OpenAI and Anthropic keys (masking lives in ``orchestrator.redact``).

detect-secrets 1.5.0 misses ``sk-proj-...`` (OpenAI project, service-account and admin keys) and
``sk-ant-api03-...`` (Anthropic) keys. This file is a detect-secrets plugin file: pass its path to
``detect-secrets scan --plugin``. It must stay importable on its own (detect-secrets loads it by
path, where ``orchestrator`` may not be importable), so it imports only the standard library and
detect-secrets.
"""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

OPENAI_KEY = re.compile(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}")
ANTHROPIC_KEY = re.compile(r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{20,}")


class OpenAIProjectKeyDetector(RegexBasedDetector):  # type: ignore[misc]  # untyped base class
    """Scans for OpenAI project, service-account and admin keys (``sk-proj-...``)."""

    secret_type = "OpenAI Project Key"  # noqa: S105 - a label, not a password
    denylist = [OPENAI_KEY]


class AnthropicKeyDetector(RegexBasedDetector):  # type: ignore[misc]  # untyped base class
    """Scans for Anthropic API and admin keys (``sk-ant-api03-...``)."""

    secret_type = "Anthropic API Key"  # noqa: S105 - a label, not a password
    denylist = [ANTHROPIC_KEY]


#: Our own key shapes, for scanning added lines directly (see ``find_keys``).
KEY_PATTERNS: dict[str, re.Pattern[str]] = {
    OpenAIProjectKeyDetector.secret_type: OPENAI_KEY,
    AnthropicKeyDetector.secret_type: ANTHROPIC_KEY,
}


def find_keys(line: str) -> list[str]:
    """Secret types of the OpenAI/Anthropic keys found in one line (never the values)."""
    return [kind for kind, pattern in KEY_PATTERNS.items() if pattern.search(line)]


def key_values(line: str) -> list[str]:
    """The OpenAI/Anthropic keys themselves in one line: only for masking them, never to report."""
    return [m[0] for pattern in KEY_PATTERNS.values() for m in pattern.finditer(line)]
