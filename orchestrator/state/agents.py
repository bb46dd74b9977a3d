"""``state/agents.yaml``: the agents a human registered, and what each may ever do (its grant).

An agent that asked to join by itself waits as ``pending`` until a human approves it; a revoked
agent opens no session. Who may register or approve is the governance layer's decision
(``governance.agents``); this module reads and writes the file under the state lock.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.state import _roster
from orchestrator.state.taskcard import RoleMode
from orchestrator.state.workspace import Workspace

#: An agent id: lowercase letters, digits and dashes, as it appears after ``agent:`` on the trail.
AGENT_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")

#: Agent keys start with this, so the redactor (and a person) recognises one anywhere.
KEY_PREFIX = "aios_ak_"  # noqa: S105 - a prefix, not a secret

#: The agents the workflow itself runs (its builder and reviewer); registered on first use.
BUILTIN = ("builder", "reviewer")


class AgentState(StrEnum):
    PENDING = "pending"
    """Asked to join by itself; opens no session until a human approves it."""
    ACTIVE = "active"
    REVOKED = "revoked"


class Agent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=AGENT_ID.pattern)
    name: str = Field(min_length=1, max_length=100)
    state: AgentState
    role_modes: list[RoleMode]
    """The role modes its sessions may take."""
    queues: list[str] | None = None
    """The queues whose tasks its sessions may hold; None: every queue."""
    registered_by: str
    registered_at: str
    approved_by: str | None = None
    approved_at: str | None = None
    builtin: bool = False
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of its agent key, which it shows to open a session by itself (over MCP); the key is
    shown once, when issued, and never stored. None: no key, so it opens no session by itself."""

    @property
    def actor(self) -> str:
        """How the audit trail names it."""
        return f"agent:{self.id}"


class AgentsFile(BaseModel):
    """The contents of ``state/agents.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    agents: list[Agent] = Field(default_factory=list)

    def get(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)


_HEADER = """\
# Registered agents (aios agent register|approve|list). Each agent's grant: the role modes and
# queues its sessions may take. Edit by hand only to revoke (state: revoked).
"""


def load(ws: Workspace) -> AgentsFile:
    """Read and validate ``state/agents.yaml``, or its table when the state is shared (none: no agents)."""
    return _roster.load_state(ws, ws.agents_file, AgentsFile)


def save(ws: Workspace, roster: AgentsFile) -> None:
    _roster.save_state(ws, ws.agents_file, _HEADER, roster)


def write_file(path: Path, roster: AgentsFile) -> None:
    """Write ``roster`` as ``state/agents.yaml`` is written (``aios state export`` writes it anywhere)."""
    _roster.save(path, _HEADER, roster)


@contextmanager
def editing(ws: Workspace) -> Iterator[AgentsFile]:
    """The agents file under the state lock, written back when the block ends without error."""
    with _roster.locked(ws):
        roster = load(ws)
        yield roster
        save(ws, roster)


def new_key() -> str:
    """A new agent key: 32 random bytes, so its plain SHA-256 cannot be reversed or guessed."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(agent: Agent, key: str) -> bool:
    """Whether ``key`` is ``agent``'s key (compared in constant time); never for a keyless agent."""
    return agent.key_sha256 is not None and secrets.compare_digest(agent.key_sha256, key_hash(key.strip()))


def new_id(roster: AgentsFile, name: str) -> str:
    """A readable, unused id made from ``name`` (``Claude Code`` -> ``claude-code``, then ``-2``...)."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "agent"
    if not base[0].isalpha():
        base = f"agent-{base}"[:32]
    taken = {a.id for a in roster.agents} | set(BUILTIN)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
