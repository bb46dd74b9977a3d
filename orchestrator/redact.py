"""The one redactor: every string aios stores, prints or sends to a model passes through here.

It masks three things:

1. **Found secrets**: the exact values the review's secrets evidence found in a change
   (``register``). They live in this process's memory only; across processes a task keeps their
   salted SHA-256 hashes (``save_hashes`` / ``load_hashes``), never the values, and a token of a
   text whose hash matches is masked too. So a resumed run or ``aios review show`` in a new
   process still masks a secret found earlier, without the value ever being written down.
2. **Known shapes**: API keys with a recognisable prefix (OpenAI, Anthropic, AWS, GitHub, Slack,
   Google, GitLab) and aios session tokens, JWTs, private key blocks, ``Bearer`` tokens,
   credentials in URLs, and values assigned to a secret-sounding name (``password=...``, ``PASSWORD: ...``,
   ``aws_secret_access_key = ...``).
3. **Generic high-entropy tokens**: 20+ characters of letters and digits mixed like random
   output. Pure hex is left alone (git commit ids, digests, UUIDs are hex and reports need them),
   and so are words joined into identifiers (``ReviewReplyValidator``) and paths.

Plus the values of the provider key variables set in the environment.

``redact`` replaces a secret with ``[REDACTED]``; ``mask_secrets`` keeps a known prefix so the
reader of a review report sees which kind it was (``sk-proj-****``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets as _random
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator._text import map_strings

#: Environment variables whose values are always scrubbed (plus any a model's settings name).
KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AIOS_API_KEY")
MASK = "[REDACTED]"
SHORT_MASK = "****"
#: Found values shorter than this are not registered: masking ``abc`` everywhere would garble text.
MIN_FOUND = 6

# Prefix kept by ``mask_secrets`` (group ``kind``), rest masked.
_KEYS = re.compile(
    r"\b(?P<kind>sk-(?:proj|svcacct|admin|ant-(?:api|admin)\d{2})-|sk-ant-|sk-|AKIA|ASIA|gh[pousr]_"
    r"|github_pat_|xox[abprs]-|glpat-|AIza|aios_st_|aios_ak_)(?P<rest>[A-Za-z0-9_\-]{12,})"
)
_JWT = re.compile(r"\b(?P<kind>eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z ]*PRIVATE KEY)-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
)
# Group ``keep`` (the name, the scheme and user) always stays: it says what was hidden.
_BEARER = re.compile(r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/\-]{8,}=*")
_URL_CREDENTIALS = re.compile(r"(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)[^\s@/]{3,}(?=@)")
_SENSITIVE_NAME = (
    r"[A-Za-z0-9_\-.]*(?:api[_\-]?key|secret|token|passw(?:or)?d|pwd|credential|private[_\-]?key"
    r"|access[_\-]?key|authorization)[A-Za-z0-9_\-]*"
)
_ASSIGNMENT = re.compile(
    rf"""(?i)(?P<keep>{_SENSITIVE_NAME}["']?\s*(?:[:=]|=>|:=)\s*(?P<quote>["']?))(?P<value>[^\s"',;]{{8,}})"""
)
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{20,}={0,2}(?![A-Za-z0-9+/_\-=])")
# What a found value may be split from: the same rule builds hash tokens and checks found values.
_TOKEN = re.compile(r"[^\s\"'`,;(){}\[\]<>\\]+")
_TOKEN_PART = re.compile(r"[^=:@]+")

_lock = threading.Lock()
_found: set[str] = set()
_hashes: dict[str, set[str]] = {}  # salt -> hex digests of found values


# ---------------------------------------------------------------- the registry of found secrets


def register(values: Iterable[str]) -> None:
    """Mask these exact values everywhere in this process from now on (the secrets evidence calls it)."""
    new = {v.strip() for v in values if len(v.strip()) >= MIN_FOUND}
    with _lock:
        _found.update(new)


def found() -> frozenset[str]:
    """The values registered so far."""
    with _lock:
        return frozenset(_found)


def forget() -> None:
    """Drop every registered value and hash (tests; a long-lived server between workspaces)."""
    with _lock:
        _found.clear()
        _hashes.clear()


def save_hashes(path: Path, values: Iterable[str]) -> None:
    """Keep salted hashes of ``values`` in ``path`` (merged with what it holds), never the values.

    Only values that are whole tokens are kept: a hash can only be matched token by token.
    """
    data = _read_hashes(path) or {"salt": _random.token_hex(16), "sha256": []}
    digests = set(data["sha256"]) | {_digest(data["salt"], v) for v in values if _is_token(v)}
    if digests == set(data["sha256"]):
        return
    from orchestrator._files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"salt": data["salt"], "sha256": sorted(digests)}, indent=2) + "\n")
    _remember(data["salt"], digests)


def load_hashes(path: Path) -> None:
    """Mask tokens whose salted hash is listed in ``path`` (a missing or unreadable file adds none)."""
    data = _read_hashes(path)
    if data:
        _remember(data["salt"], set(data["sha256"]))


def _read_hashes(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("salt"), str) and isinstance(data.get("sha256"), list)
    return data if ok else None


def _remember(salt: str, digests: set[str]) -> None:
    with _lock:
        _hashes.setdefault(salt, set()).update(digests)


def _digest(salt: str, value: str) -> str:
    return hashlib.sha256((salt + value).encode()).hexdigest()


def _is_token(value: str) -> bool:
    return len(value) >= MIN_FOUND and any(t == value for t in tokens(value))


def tokens(text: str) -> Iterable[str]:
    """The words of ``text`` a secret can be: split at spaces, quotes and brackets, then at ``=:@``.

    ``password = "hunter2hunter2"`` gives ``password``, ``=`` and ``hunter2hunter2``.
    """
    for m in _TOKEN.finditer(text):
        yield m[0]
        parts = _TOKEN_PART.findall(m[0])
        if len(parts) > 1:
            yield from parts


# ---------------------------------------------------------------- redaction


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Values of the key variables that are set now (8+ characters, so short values stay readable)."""
    names = {*KEY_VARIABLES, *extra}
    return [v for v in (os.environ.get(n, "") for n in names) if len(v) >= 8]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret (found, known, key-shaped or random-looking) replaced by ``[REDACTED]``.

    Example:
        >>> redact("export OPENAI_API_KEY=sk-proj-" + "a1B2" * 6)
        'export OPENAI_API_KEY=[REDACTED]'
    """
    return _scrub(text, secrets, keep_kind=False)


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Like ``redact``, but a known prefix stays so a reader sees the kind: ``sk-proj-****``, ``AKIA****``."""
    return _scrub(text, secrets, keep_kind=True)


def redact_data(data: Any, secrets: Iterable[str] = ()) -> Any:
    """``data`` (JSON-like) with every string redacted; keys of mappings are kept."""
    values = list(secrets)  # an iterator would be used up by the first string
    return map_strings(data, lambda s: redact(s, values))


def mask_data(data: Any) -> Any:
    """``data`` (JSON-like) with every string passed through ``mask_secrets``."""
    return map_strings(data, mask_secrets)


def _scrub(text: str, secrets: Iterable[str], *, keep_kind: bool) -> str:
    if not text:
        return text
    mask = SHORT_MASK if keep_kind else MASK
    for value in sorted({*found(), *secrets, *known_secrets()}, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, _kind_of(value) + mask if keep_kind else mask)
    text = _mask_hashed(text, mask)
    text = _PRIVATE_KEY.sub(lambda m: f"-----BEGIN {m['kind']}----- {mask}", text)
    for pattern in (_KEYS, _JWT):
        text = pattern.sub(lambda m: (m["kind"] if keep_kind else "") + mask, text)
    text = _BEARER.sub(lambda m: m["keep"] + mask, text)
    text = _URL_CREDENTIALS.sub(lambda m: m["keep"] + mask, text)
    text = _ASSIGNMENT.sub(lambda m: _assigned(m, mask), text)
    text = _AWS_SECRET.sub(lambda m: mask if _mixed(m[0]) else m[0], text)
    return _CANDIDATE.sub(lambda m: mask if looks_random(m[0]) else m[0], text)


def _kind_of(value: str) -> str:
    """The known prefix a value starts with (``sk-proj-``), so a found key reads as a shaped one does."""
    m = _KEYS.match(value)
    return m["kind"] if m else ""


def _mask_hashed(text: str, mask: str) -> str:
    with _lock:
        salted = [(salt, frozenset(d)) for salt, d in _hashes.items()]
    if not salted:
        return text
    hits = {t for t in tokens(text) if any(_digest(s, t) in d for s, d in salted)}
    for token in sorted(hits, key=len, reverse=True):
        text = text.replace(token, mask)
    return text


# Unquoted code is not a secret: ``token = settings.token``, ``api_key = read_key()``,
# ``max_tokens: 1024``, ``key=${KEY}``, ``password = user_password``.
_CODE = re.compile(
    r"[A-Za-z_]\w*(?:\.\w+)+.*|\w*_\w*|[\w.]*[(\[].*|[\d.]+|\$\{?\w+\}?.*|.*\[REDACTED\].*|\*+"
)


def _assigned(m: re.Match[str], mask: str) -> str:
    if not m["quote"] and _CODE.fullmatch(m["value"]):
        return m[0]
    return m["keep"] + mask


def looks_random(token: str) -> bool:
    """Whether ``token`` looks like generated key material rather than words, a path or a hash.

    Random base62/base64 text mixes lower case, upper case and digits in short runs with high
    entropy; identifiers (``ReviewReplyValidator2``) have long lower-case runs, hex (commit ids,
    digests) has no upper case. Measured on random base62 tokens: about 83% of 20 characters and
    92% of 40 are caught (the rest happen to hold a long word-like run); see ``tests/test_redact.py``.
    """
    core = token.rstrip("=")
    n = len(core)
    if n < 20 or not _mixed(core):
        return False
    lower = [len(r) for r in re.findall(r"[a-z]+", core)]
    upper = [len(r) for r in re.findall(r"[A-Z]+", core)]
    if sum(lower) / len(lower) > 2.5 or sum(upper) / len(upper) > 3.0:
        return False
    return _entropy(core) >= 0.84 * math.log2(min(n, 64))


def _mixed(text: str) -> bool:
    """Lower case, upper case and digits all present (paths, words and hex lack one of them)."""
    return not ({"lower", "upper", "digit"} - {_kind(c) for c in text})


def _kind(char: str) -> str:
    return "lower" if char.islower() else "upper" if char.isupper() else "digit" if char.isdigit() else ""


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


# ---------------------------------------------------------------- logs


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs each record's message: the SDKs log whole request bodies at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
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
