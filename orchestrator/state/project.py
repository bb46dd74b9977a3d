"""``state/project.yaml``: the project's name, its members and their authority levels, the queue policy.

Authority follows the operating model (§1): each human member holds one role, and each role is a
level, lower meaning more authority. The levels are the rules; what each level may do is one
table in ``governance.matrix``, not written in the file::

    schema_version: 2
    name: demo
    members:
    - {name: alice, role: owner, email: alice@example.com}
    - {name: bob, role: operator}
    queues: {dev: {max_concurrent: 3}}
    id: 3f9c2a7d1e04                 # written by `aios init`: names this workspace in shared servers
    backends:                        # optional: beyond one machine (each overridden by its variable)
      state: postgresql://db.example/aios        # AIOS_STATE_URL
      checkpoints: postgresql://db.example/aios  # AIOS_CHECKPOINT_URL
      langgraph: http://127.0.0.1:2024           # AIOS_LANGGRAPH_URL

A schema_version 1 file (members with ``roles: [project_owner]`` and a ``roles:`` permission table)
is migrated on read (`m002_levels`); the next ``aios member add|remove`` writes it back as version 2.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from orchestrator import _yaml
from orchestrator._files import atomic_write, read_text
from orchestrator._lock import exclusive
from orchestrator._text import is_hidden
from orchestrator.errors import StateError
from orchestrator.state._project_v1 import m002_levels, read_version

SCHEMA_VERSION = 2


class Level(IntEnum):
    """An authority level of the operating model: a lower number is more authority."""

    OWNER = 0
    """Project Owner, L0: freeze/unfreeze, members, final authority."""
    PLATFORM = 1
    """Platform Engineer, L1: framework changes (workflows, personas, prompts, policy)."""
    LEAD = 2
    """Project Lead, L2: project specs and tasks, deviations, merges."""
    OPERATOR = 3
    """Human Operator: day-to-day task management."""

    @property
    def label(self) -> str:
        """``L0`` ... ``L3``, as the operating model writes it."""
        return f"L{self.value}"

    @property
    def role(self) -> str:
        """The role name that holds this level (``owner`` for L0)."""
        return next(name for name, level in ROLES.items() if level is self)


#: Role names as written in ``project.yaml`` and on the command line, most authority first.
ROLES: dict[str, Level] = {
    "owner": Level.OWNER,
    "platform": Level.PLATFORM,
    "lead": Level.LEAD,
    "operator": Level.OPERATOR,
}


QUEUE_NAME = re.compile(r"^[a-z][a-z0-9]*$")
#: Longer member names are refused, as actor names are (``state.audit.MAX_ACTOR_LENGTH``).
MAX_NAME_LENGTH = 100


class QueuePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent: int = Field(ge=1)
    requires_human_approval: bool = False
    """Only a human member with ``approve_task`` may start tasks in this queue."""


WORKSPACE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Backends(BaseModel):
    """Where a workspace keeps what it shares beyond one machine; unset means the embedded default
    (YAML files in ``state/``, ``state/checkpoints.sqlite``, the graph run in-process)."""

    model_config = ConfigDict(extra="forbid")

    state: str | None = None
    """``postgresql://...``: tasks, events, queues, agents and sessions in PostgreSQL."""
    checkpoints: str | None = None
    """``postgresql://...``: the review graph's checkpoints in PostgreSQL."""
    langgraph: str | None = None
    """``http(s)://...``: a LangGraph Server that runs the review graph."""

    @field_validator("state", "checkpoints")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        return url if url is None else check_postgres_url(url)

    @field_validator("langgraph")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^\s/]+", url):
            raise ValueError(f"{url!r} is not a server address: write http://HOST:PORT")
        return url


def check_postgres_url(url: str) -> str:
    """``url`` if it names a PostgreSQL database without a password in it.

    A password in a committed file (or a logged URL) is a leaked secret: libpq reads it from
    ``PGPASSWORD`` or ``~/.pgpass`` instead.
    """
    if not re.match(r"^postgres(ql)?://", url):
        raise ValueError(f"{url!r} is not a PostgreSQL URL: write postgresql://USER@HOST:PORT/DATABASE")
    if re.match(r"^postgres(ql)?://[^/@]*:[^/@]*@", url) or re.search(r"[?&]password=", url):
        raise ValueError(
            "the URL holds a password: remove it and put it in PGPASSWORD or ~/.pgpass, "
            "where PostgreSQL's client reads it"
        )
    return url


class Member(BaseModel):
    """A human member: who they are, their role, and the git email that identifies them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    """The name they act as (``--actor``); never ``agent:...``, which names agents."""
    role: str
    """One of `ROLES`."""
    email: str | None = None
    """The git ``user.email`` that maps to this member when no ``--actor`` is given."""

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        if any(is_hidden(c) for c in name) or not name.strip():
            raise ValueError("a member name must be printable text, with no control characters")
        if name.startswith("agent:"):
            raise ValueError("`agent:` names agents, which are never members: choose another name")
        return name

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        return role

    @field_validator("email")
    @classmethod
    def _plain_email(cls, email: str | None) -> str | None:
        if email is not None and (
            "@" not in email or len(email) > 254 or any(c.isspace() or is_hidden(c) for c in email)
        ):
            raise ValueError(f"{email!r} is not an email address (one word with an @)")
        return email

    @property
    def level(self) -> Level:
        return ROLES[self.role]

    def data(self) -> dict[str, str]:
        """The member as written in ``project.yaml`` (no ``email:`` when unknown)."""
        out = {"name": self.name, "role": self.role}
        return out | ({"email": self.email} if self.email else {})


class Project(BaseModel):
    """The validated contents of ``state/project.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = SCHEMA_VERSION
    name: str = Field(min_length=1)
    members: list[Member]
    queues: dict[str, QueuePolicy] = Field(min_length=1)
    id: str | None = None
    """Names this workspace in a database or server it shares with others (rows, thread ids): ``aios
    init`` writes a random one. A workspace without it is named by its project name."""
    backends: Backends = Field(default_factory=Backends)
    _read_version: int = PrivateAttr(default=SCHEMA_VERSION)

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, queues: dict[str, QueuePolicy]) -> dict[str, QueuePolicy]:
        for name in queues:
            if not QUEUE_NAME.match(name):
                raise ValueError(f"queue name {name!r} must be lowercase letters and digits")
        return queues

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str | None) -> str | None:
        if value is not None and not WORKSPACE_ID.match(value):
            raise ValueError(f"id {value!r} must be lowercase letters, digits, - and _ (at most 63)")
        return value

    @property
    def workspace_id(self) -> str:
        """``id``, or the project name made into one (lowercase, other characters as ``-``)."""
        return self.id or re.sub(r"[^a-z0-9_-]+", "-", self.name.casefold()).strip("-")[:63] or "workspace"

    @field_validator("members")
    @classmethod
    def _unique_members(cls, members: list[Member]) -> list[Member]:
        # A name or email held twice would make "who is acting" depend on the order of the list.
        for what in ("name", "email"):
            seen: set[str] = set()
            for member in members:
                value = member.name if what == "name" else (member.email or "").casefold()
                if value and value in seen:
                    raise ValueError(f"two members have the {what} {value!r}: each must be unique")
                seen.add(value)
        return members

    @property
    def read_version(self) -> int:
        """The ``schema_version`` of the file as read: 1 means it was migrated and is not yet rewritten."""
        return self._read_version

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def member_by_email(self, email: str) -> Member | None:
        """The member whose ``email`` is ``email`` (compared without case)."""
        wanted = email.casefold()
        return next((m for m in self.members if m.email and m.email.casefold() == wanted), None)

    def level(self, name: str) -> Level | None:
        member = self.member(name)
        return member.level if member else None

    def owners(self) -> list[Member]:
        return [m for m in self.members if m.level is Level.OWNER]

    def data(self) -> dict[str, Any]:
        """The project as written in ``project.yaml`` (schema_version 2)."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "members": [m.data() for m in self.members],
            "queues": {name: q.model_dump(exclude_unset=True) for name, q in self.queues.items()},
        }
        if self.id is not None:
            data["id"] = self.id
        if backends := self.backends.model_dump(exclude_none=True):
            data["backends"] = backends
        return data


DEFAULT_QUEUES: dict[str, dict[str, object]] = {
    "research": {"max_concurrent": 2},
    "data": {"max_concurrent": 1},
    "dev": {"max_concurrent": 3},
    "governance": {"max_concurrent": 1, "requires_human_approval": True},
}

#: The comment at the top of a ``project.yaml`` aios writes.
HEADER = (
    "# Members: `aios member list|add|remove` (add and remove: owners only). Roles, most authority\n"
    "# first: owner (L0), platform (L1), lead (L2), operator (L3). Comments outside members: are kept.\n"
)


def default_project(name: str, owner: str, email: str | None = None) -> dict[str, object]:
    """The ``project.yaml`` written by ``aios init``: the person running it is the project owner."""
    member = Member(name=owner, role="owner", email=email)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "members": [member.data()],
        "queues": DEFAULT_QUEUES,
        "id": secrets.token_hex(6),
    }


def load_project(path: Path) -> Project:
    """Read and validate ``state/project.yaml``, migrating a schema_version 1 file on the way.

    Raises:
        StateError: the file is missing, not YAML, not valid, or a version 1 file aios cannot migrate.
    """
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise StateError("the project file is missing", file=path, fix="run `aios init` here") from None
    return parse_project(text, file=path)


def parse_project(text: str, *, file: Path | str) -> Project:
    """Validate the text of a ``project.yaml`` (see `load_project`)."""
    data = _yaml.load(text, file=file, error=StateError)
    version = read_version(data, text=text, file=file)
    if version == 1:
        data = m002_levels(data, text=text, file=file)
    project = _yaml.validate(Project, data, file=file, text=text, error=StateError)
    project._read_version = version
    return project


def update_project(
    path: Path, lock: Path, change: Callable[[Project], Project | None]
) -> tuple[Project, Project]:
    """Apply ``change`` to the project under the state ``lock``; returns (before, after).

    ``change`` sees the file as it is now (re-read under the lock, so two owners editing at once
    both count) and returns the new project, or None for no change. The file is written atomically,
    as schema_version 2; a version 1 file is rewritten even when nothing else changed.

    Raises:
        StateError: the file cannot be read, validated or written.
        Exception: whatever ``change`` raises (the file is left as it was).
    """
    with exclusive(lock):
        text = read_text(path)
        before = parse_project(text, file=path)
        after = change(before) or before
        if after is not before or before.read_version != SCHEMA_VERSION:
            atomic_write(path, project_text(after, previous=text))
    return before, after


def project_text(project: Project, *, previous: str | None = None) -> str:
    """``project`` as YAML: ``previous`` with only its ``members:`` block replaced when that is safe.

    The splice keeps the user's comments and layout elsewhere in the file (a version 1 file also
    loses its ``roles:`` table and gets ``schema_version: 2``). It is used only when the result
    reads back as exactly the project; otherwise the file is written afresh under `HEADER`.
    """
    data = project.data()
    text: str | None = previous
    blocks = {
        "schema_version": f"schema_version: {SCHEMA_VERSION}\n",
        "members": _yaml.dump({"members": data["members"]}),
        "roles": "",
    }
    for key, block in blocks.items():
        text = _splice(text, key, block) if text is not None else None
    if text is not None and _reads_as(text, data):
        return text
    return HEADER + _yaml.dump(data)


#: A top-level key at the start of a line (``queues:``): it ends the block of the key before it.
_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def _splice(text: str, key: str, block: str) -> str | None:
    """``text`` with top-level ``key``'s block replaced by ``block`` (None: no place found for it)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{key}\s*:", line)), None)
    if start is None:  # a new key goes before the first key (after a leading comment)
        first = next((i for i, line in enumerate(lines) if _TOP_KEY.match(line)), None)
        return (
            text if not block else None if first is None else "".join([*lines[:first], block, *lines[first:]])
        )
    end = next((j for j in range(start + 1, len(lines)) if _TOP_KEY.match(lines[j])), len(lines))
    # Comments and blank lines at column 0 just above the next key describe that key: keep them.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    if not lines[end - 1].endswith("\n"):
        block = block.rstrip("\n")
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _reads_as(text: str, data: dict[str, Any]) -> bool:
    try:
        return bool(_yaml.load(text, file="project.yaml", error=StateError) == data)
    except StateError:
        return False
