"""Retries on transient failures only, with tenacity: exponential backoff with jitter, or the server's
``retry-after`` when it gave one. The SDKs' own retries are off (``max_retries=0``) so attempts
do not multiply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from orchestrator.llm.errors import ProviderUnavailable
from orchestrator.llm.settings import RetrySettings
from orchestrator.redact import install_log_filter

T = TypeVar("T")
Sleep: TypeAlias = Callable[[float], None]

log = logging.getLogger("orchestrator.llm")
install_log_filter(log.name)


def call_with_retries(fn: Callable[[], T], policy: RetrySettings, *, sleep: Sleep | None = None) -> T:
    """Call ``fn``; on ``ProviderUnavailable`` wait and try again, up to ``policy.attempts`` in all.

    A server asking to wait longer than ``policy.max_retry_after_s`` is not retried. Any other
    error propagates at once.

    Raises:
        ProviderUnavailable: the last failure, saying how many attempts were made.
    """
    # tenacity is imported on the first call, not when orchestrator.llm is imported.
    from tenacity import Retrying, retry_if_exception_type

    retrying = Retrying(
        retry=retry_if_exception_type(ProviderUnavailable),
        stop=_stop(policy),
        wait=_wait(policy),
        sleep=sleep or time.sleep,
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        return retrying(fn)
    except ProviderUnavailable as exc:
        raise exc.exhausted(retrying.statistics.get("attempt_number", 1)) from None


def _wait(policy: RetrySettings) -> Callable[[Any], float]:
    from tenacity import wait_exponential_jitter

    backoff = wait_exponential_jitter(
        multiplier=policy.initial_wait_s, max=policy.max_wait_s, jitter=policy.jitter_s
    )

    def wait(state: Any) -> float:
        asked = getattr(state.outcome.exception(), "retry_after", None)
        return float(asked) if asked is not None else float(backoff(state))

    return wait


def _stop(policy: RetrySettings) -> Callable[[Any], bool]:
    def stop(state: Any) -> bool:
        if state.attempt_number >= policy.attempts:
            return True
        asked = getattr(state.outcome.exception(), "retry_after", None)
        return asked is not None and asked > policy.max_retry_after_s

    return stop


def _log_retry(state: Any) -> None:
    exc = state.outcome.exception()
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "%s: %s; retrying in %.1f s (attempt %d)", exc.model, exc.message, wait, state.attempt_number + 1
    )
