"""``state/sessions.yaml``: agent sessions, each with a role mode, a task scope and an expiry.

A session's token is shown once, when it is created; the file keeps only its SHA-256 (a token is
32 random bytes, so a plain hash cannot be reversed or guessed). Setting ``state: terminated`` on
a session by hand (the operating model's emergency procedure) ends it like ``aios session
terminate``: ``lookup`` refuses it at once, and the next locked write records who and when.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.redact import redact
from orchestrator.state import _roster
from orchestrator.state.audit import append_governance
from orchestrator.state.records import now
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

#: Tokens start with this, so the redactor (and a person) recognises one anywhere.
TOKEN_PREFIX = "aios_st_"  # noqa: S105 - a prefix, not a secret
SESSION_ID = re.compile(r"^SES-[0-9a-f]{12}$")
#: ``terminated_by`` of a session someone ended by editing the file.
HAND_EDIT = "hand edit of state/sessions.yaml"


class SessionState(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class Session(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SESSION_ID.pattern)
    agent_id: str
    role_mode: RoleMode
    task_scope: list[str] = Field(default_factory=list)
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    state: SessionState = SessionState.ACTIVE
    created_by: str
    created_at: str
    expires_at: str
    terminated_by: str | None = None
    terminated_at: str | None = None
    reason: str | None = None

    @property
    def actor(self) -> str:
        return f"agent:{self.agent_id}"

    def expired(self, at: datetime | None = None) -> bool:
        return parse_time(self.expires_at) <= (at or datetime.now(UTC))

    def live(self) -> bool:
        return self.state is SessionState.ACTIVE and not self.expired()


class SessionsFile(BaseModel):
    """The contents of ``state/sessions.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    sessions: list[Session] = Field(default_factory=list)

    def by_token(self, token: str) -> Session | None:
        digest = token_hash(token)
        return next((s for s in self.sessions if secrets.compare_digest(s.token_sha256, digest)), None)

    def by_id(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.id == session_id), None)

    def unrecorded_hand_terminations(self) -> list[Session]:
        """Sessions set to ``terminated`` by hand, not yet stamped with who and when."""
        return [s for s in self.sessions if s.state is SessionState.TERMINATED and s.terminated_at is None]


_HEADER = """\
# Agent sessions (aios session create|terminate|list). Tokens are never stored, only their hash.
# Emergency: set a session's `state: terminated` to end it at once.
"""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    return f"SES-{secrets.token_hex(6)}"


def expiry(ttl: timedelta) -> str:
    return (datetime.now(UTC) + ttl).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def load(ws: Workspace) -> SessionsFile:
    """Read and validate ``state/sessions.yaml``, or its table if the state is shared (none: no sessions)."""
    return _roster.load_state(ws, ws.sessions_file, SessionsFile)


def save(ws: Workspace, roster: SessionsFile) -> None:
    _roster.save_state(ws, ws.sessions_file, _HEADER, roster)


def write_file(path: Path, roster: SessionsFile) -> None:
    """Write ``roster`` as ``state/sessions.yaml`` is written (``aios state export`` writes it anywhere)."""
    _roster.save(path, _HEADER, roster)


@contextmanager
def editing(ws: Workspace) -> Iterator[SessionsFile]:
    """The sessions file under the state lock, written back when the block ends without error.

    Sessions terminated by hand get their ``terminated_at`` and ``terminated_by`` stamped here.
    """
    with _roster.locked(ws):
        roster = load(ws)
        for session in roster.unrecorded_hand_terminations():
            stamp_terminated(session, by=HAND_EDIT, reason=session.reason or "terminated by hand")
            append_governance(ws, f"session {session.id} of {session.actor} terminated by {HAND_EDIT}")
        yield roster
        save(ws, roster)


def stamp_terminated(session: Session, *, by: str, reason: str) -> None:
    session.state = SessionState.TERMINATED
    session.terminated_by = by
    session.terminated_at = now()
    session.reason = redact(reason)  # a pasted token or key must not land in the file


def parse_ttl(text: str) -> timedelta:
    """``8h``, ``30m``, ``2d``, ``45s`` as a duration.

    Raises:
        ValueError: not a positive number followed by s, m, h or d.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration: write e.g. 30m, 8h or 2d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: int(match[1])})
