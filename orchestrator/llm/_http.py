"""SDK exception → ``orchestrator.llm.errors``: the one translation, shared by both adapters.

openai and anthropic name their exceptions alike (``APIStatusError``, ``APITimeoutError``,
``APIConnectionError``), so the adapter passes its SDK module and this decides by status.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from orchestrator.llm.errors import (
    ModelError,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderResponseError,
    ProviderUnavailable,
)

#: Statuses worth another attempt: timeout, conflict, too early, rate limit; every 5xx is too.
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


def translate(exc: Exception, sdk: ModuleType, *, where: Where) -> ModelError:
    """The ``ModelError`` for an exception raised by the ``sdk`` client."""
    if isinstance(exc, sdk.APIStatusError):
        headers = dict(exc.response.headers) if getattr(exc, "response", None) is not None else {}
        return error_for_status(exc.status_code, body_text(exc.body), headers, where=where)
    if isinstance(exc, sdk.APITimeoutError):  # before APIConnectionError: it is a subclass
        return ProviderUnavailable(f"no answer within {where.timeout_s:g} s", **where.fields())
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderUnavailable(f"cannot connect to {where.base_url or 'the API'}", **where.fields())
    return ProviderResponseError(f"the SDK failed: {type(exc).__name__}: {exc}", **where.fields())


@dataclass(frozen=True)
class Where:
    """What an error message says about the call: adapter, model string, base URL, key variable."""

    provider: str
    model: str
    base_url: str | None = None
    key_env: str | None = None
    timeout_s: float = 0.0

    def fields(self) -> dict[str, Any]:
        """Keyword arguments common to every ``ModelError``."""
        return {"provider": self.provider, "model": self.model}


def error_for_status(status: int, body: str, headers: Mapping[str, str], *, where: Where) -> ModelError:
    """Classify an HTTP error: auth, transient (with ``retry-after``) or a bad request."""
    common = {**where.fields(), "status": status, "body": body}
    if status in (401, 403):
        key = f"${where.key_env}" if where.key_env else "the API key"
        return ProviderAuthError(
            "the server refused the key", fix=f"check that {key} is valid for this model", **common
        )
    if status in TRANSIENT_STATUSES or status >= 500:
        what = "rate limited" if status == 429 else "the server failed"
        return ProviderUnavailable(what, retry_after=parse_retry_after(headers), **common)
    if status == 404:
        fix = "check the model name and the base URL (OpenAI-compatible servers usually end in /v1)"
        return ProviderBadRequest("not found", fix=fix, **common)
    return ProviderBadRequest("the server rejected the request", **common)


def body_text(body: object) -> str:
    """The readable part of an error body: ``error.message`` when there is one."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
        return json.dumps(body, default=str)
    return "" if body is None else str(body)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := _number(lowered.get("retry-after-ms"))) is not None:
        return ms / 1000
    value = lowered.get("retry-after")
    if value is None:
        return None
    if (seconds := _number(value)) is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _number(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
