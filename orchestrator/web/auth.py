"""Who is at the page: a one-time login link, a session cookie, a CSRF token per session.

The server prints the link once (``aios serve``); opening it sets an ``HttpOnly``,
``SameSite=Strict`` cookie and the visitor chooses which member they act as. As with the CLI's
``--actor``, that is attribution, not authentication: whoever holds the link is trusted to name
themselves, and the governance functions decide what that member may do. Everything lives in this
process's memory, so a restart ends every session (and prints a new link).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The cookie that names a browser's session (its value is a random id, never logged).
COOKIE = "aios_session"
#: The hidden form field every POST carries.
CSRF_FIELD = "csrf"
#: How long the printed link can be redeemed (once), and how long a session lasts.
LINK_TTL_S = 15 * 60
SESSION_TTL_S = 12 * 60 * 60

Clock = Callable[[], float]


@dataclass
class WebSession:
    """One browser's session: its CSRF token, the member it acts as, a message for its next page."""

    id: str = field(repr=False)
    csrf: str = field(repr=False)
    expires: float
    member: str | None = None
    """Chosen on the login page; None until then."""
    flash: tuple[str, str] | None = None
    """(``ok`` or ``error``, text): the outcome of the last action, shown once."""

    def take_flash(self) -> tuple[str, str] | None:
        shown, self.flash = self.flash, None
        return shown


class Gate:
    """The login link and the sessions of one server.

    Args:
        link_token: the token of the login link (random when None; tests pass their own).
        clock: seconds, monotonic (tests move it).
    """

    def __init__(self, link_token: str | None = None, *, clock: Clock = time.monotonic) -> None:
        self.link_token = link_token or secrets.token_urlsafe(32)
        self._clock = clock
        self._link_expires: float | None = clock() + LINK_TTL_S
        self._sessions: dict[str, WebSession] = {}

    def redeem(self, token: str) -> WebSession | None:
        """A new session for the link's token, once and before it expires; else None."""
        if self._link_expires is None or self._clock() > self._link_expires:
            return None
        if not hmac.compare_digest(token.encode(), self.link_token.encode()):
            return None
        self._link_expires = None  # single use: a copied or logged link is worth nothing after
        opened = WebSession(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            expires=self._clock() + SESSION_TTL_S,
        )
        self._sessions[opened.id] = opened
        return opened

    def session(self, cookie: str | None) -> WebSession | None:
        """The live session the cookie names, if any (an expired one is forgotten)."""
        found = self._sessions.get(cookie or "")
        if found is not None and self._clock() > found.expires:
            del self._sessions[found.id]
            return None
        return found

    def end(self, session: WebSession) -> None:
        self._sessions.pop(session.id, None)


def csrf_ok(session: WebSession, sent: object) -> bool:
    """Whether a form's CSRF field is this session's token (compared in constant time)."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf.encode())
