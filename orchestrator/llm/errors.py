"""The errors a model call can end in. Adapters raise them; nothing above the adapters sees SDK types.

ProviderError                 (orchestrator.errors) any model provider failure
├── MissingApiKey             the key's environment variable is not set (also a ConfigError)
├── UnknownModel              a model string names no provider, or its settings are wrong (also a ConfigError)
├── ProviderAuthError         401/403: the key is wrong or lacks access; never retried
├── ProviderBadRequest        400 and other 4xx: the request is wrong; never retried
├── ProviderUnavailable       429, 5xx, timeout or connection error, still failing after the retries
├── ProviderResponseError     the server answered 2xx with something that is not a reply
├── StructuredOutputError     the reply did not validate, even after one repair turn
├── BudgetExceeded            the task's token or money budget is spent; no more calls
├── ReplayMismatch            a request differs from the recording (names the turn)
└── RemoteRequestsDisabled    a test tried to reach a non-local server
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import ConfigError, ProviderError
from orchestrator.redact import known_secrets, redact

__all__ = [
    "BudgetExceeded",
    "MissingApiKey",
    "ModelError",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderResponseError",
    "ProviderUnavailable",
    "RemoteRequestsDisabled",
    "ReplayMismatch",
    "StructuredOutputError",
    "UnknownModel",
]

#: How much of a server's error body an error keeps: enough to read, never a whole page.
BODY_LIMIT = 500


class ModelError(ProviderError):
    """A provider failure, with what a user needs to tell one from another.

    Args:
        message: what went wrong, in a sentence.
        provider: the adapter (``openai``, ``anthropic``, ``replay``, ``fake``).
        model: the model string (``openai:gpt-4o-mini``).
        status: the HTTP status, when there was one.
        body: the start of the server's answer (already scrubbed of anything like a key).
        fix: what the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        body: str = "",
        fix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, fix=fix, **kwargs)
        self.provider = provider
        self.model = model
        self.status = status
        self.body = _short(body)

    def render(self) -> str:
        """``model: message (HTTP status): body`` then the fix."""
        head = f"{self.model}: " if self.model else ""
        status = f" (HTTP {self.status})" if self.status else ""
        text = f"{head}{self.message}{status}"
        if self.body:
            text += f": {self.body}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class MissingApiKey(ModelError, ConfigError):
    """The environment variable holding the key is not set."""

    def __init__(self, model: str, variable: str) -> None:
        super().__init__(
            f"no API key: the environment variable {variable} is not set",
            model=model,
            fix=f"export {variable}=<your key> (keys are read only from the environment)",
        )
        self.variable = variable


class UnknownModel(ModelError, ConfigError):
    """A model string that names no provider, or a model whose settings cannot work."""


class ProviderAuthError(ModelError):
    """401/403: the key is wrong, expired, or has no access to the model. Never retried."""


class ProviderBadRequest(ModelError):
    """400 and other non-transient 4xx: the request itself is wrong. Never retried."""


class ProviderUnavailable(ModelError):
    """429, 5xx, a timeout or a connection error.

    The adapter raises one per failed attempt (``retry_after`` set when the server said how long
    to wait); the retry loop raises the last one, with ``attempts`` set, once it gives up.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.attempts = 1

    def exhausted(self, attempts: int) -> ProviderUnavailable:
        """The same error, saying how many attempts were made before giving up."""
        err = ProviderUnavailable(
            f"{self.message}; gave up after {attempts} attempt{'s' if attempts > 1 else ''}",
            provider=self.provider,
            model=self.model,
            status=self.status,
            body=self.body,
            fix=self.fix or "try again later, or raise retry.attempts in workflows/models.yaml",
        )
        err.attempts = attempts
        return err


class ProviderResponseError(ModelError):
    """The server answered 2xx, but with something that is not a chat reply."""


class StructuredOutputError(ModelError):
    """The reply did not validate against the schema, even after one repair turn.

    Attributes:
        reason: why the last reply was rejected, in one line (the workflow shows it as BLOCKED's reason).
        raw: the start of the last reply.
    """

    def __init__(self, reason: str, *, raw: str = "", schema: str = "", **kwargs: Any) -> None:
        super().__init__(f"no valid {schema or 'structured'} reply after one repair turn: {reason}", **kwargs)
        self.reason = reason
        self.raw = _short(raw)
        self.schema = schema


class BudgetExceeded(ModelError):
    """The task's budget is spent; the call was not made.

    Attributes:
        reason: what was spent against which limit.
    """

    def __init__(self, reason: str, **kwargs: Any) -> None:
        kwargs.setdefault("fix", "raise the budget in the workflow or TaskCard, or split the task")
        super().__init__(f"budget exceeded: {reason}", **kwargs)
        self.reason = reason


class ReplayMismatch(ModelError):
    """A request that the recording does not hold.

    Attributes:
        turn: the 1-based turn of the recording the request was compared with.
        difference: where the two differ (``messages[1].content``: recorded ... / now ...).
    """

    def __init__(self, turn: int, difference: str, **kwargs: Any) -> None:
        kwargs.setdefault("fix", "record the run again with --record, or replay the matching recording")
        super().__init__(f"request differs from the recording at turn {turn}: {difference}", **kwargs)
        self.turn = turn
        self.difference = difference


class RemoteRequestsDisabled(ModelError):
    """Model requests to non-local servers are switched off (the test suite does this)."""


def _short(text: str) -> str:
    text = " ".join(redact(text, known_secrets()).split())
    return text if len(text) <= BODY_LIMIT else text[: BODY_LIMIT - 1] + "…"
