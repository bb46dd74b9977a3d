"""``state/project.yaml``: the project's name, its members and their roles, and the queue policy."""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator import _yaml
from orchestrator._files import read_text
from orchestrator.errors import StateError


class Permission(StrEnum):
    """What a member's role may do; agents never hold these."""

    APPROVE_TASK = "approve_task"
    UNBLOCK = "unblock"
    MERGE = "merge"
    LOCK_QUEUE = "lock_queue"
    UNLOCK_QUEUE = "unlock_queue"
    FREEZE = "freeze"


class Level(IntEnum):
    """Authority, from the operating model; a lower number is more authority."""

    OWNER = 0
    PLATFORM = 1
    LEAD = 2
    OPERATOR = 3


_OLD_ROLE_LEVELS = {
    "project_owner": Level.OWNER,
    "platform_engineer": Level.PLATFORM,
    "project_lead": Level.LEAD,
    "human_operator": Level.OPERATOR,
}


QUEUE_NAME = re.compile(r"^[a-z][a-z0-9]*$")


class QueuePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent: int = Field(ge=1)
    requires_human_approval: bool = False
    """Only a human member with ``approve_task`` may start tasks in this queue."""


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1)


class Project(BaseModel):
    """The validated contents of ``state/project.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    name: str = Field(min_length=1)
    members: list[Member]
    roles: dict[str, list[Permission]]
    queues: dict[str, QueuePolicy] = Field(min_length=1)

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, queues: dict[str, QueuePolicy]) -> dict[str, QueuePolicy]:
        for name in queues:
            if not QUEUE_NAME.match(name):
                raise ValueError(f"queue name {name!r} must be lowercase letters and digits")
        return queues

    @model_validator(mode="after")
    def _known_roles(self) -> Project:
        for member in self.members:
            for role in member.roles:
                if role not in self.roles:
                    raise ValueError(
                        f"member {member.name!r} has role {role!r}, which is not defined under roles "
                        f"(known: {', '.join(self.roles)})"
                    )
        return self

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def level(self, name: str) -> Level | None:
        member = self.member(name)
        if member is None:
            return None
        return min(_OLD_ROLE_LEVELS.get(role, Level.OPERATOR) for role in member.roles)

    def permissions(self, name: str) -> set[Permission]:
        member = self.member(name)
        if member is None:
            return set()
        return {perm for role in member.roles for perm in self.roles[role]}


DEFAULT_ROLES: dict[str, list[str]] = {
    "project_owner": [p.value for p in Permission],
    "platform_engineer": ["approve_task", "unblock", "merge", "lock_queue", "unlock_queue"],
    "project_lead": ["approve_task", "unblock", "merge", "lock_queue"],
    "human_operator": ["approve_task", "unblock", "lock_queue"],
}

DEFAULT_QUEUES: dict[str, dict[str, object]] = {
    "research": {"max_concurrent": 2},
    "data": {"max_concurrent": 1},
    "dev": {"max_concurrent": 3},
    "governance": {"max_concurrent": 1, "requires_human_approval": True},
}


def default_project(name: str, owner: str) -> dict[str, object]:
    """The ``project.yaml`` written by ``aios init``: the person running it is the project owner."""
    return {
        "schema_version": 1,
        "name": name,
        "members": [{"name": owner, "roles": ["project_owner"]}],
        "roles": DEFAULT_ROLES,
        "queues": DEFAULT_QUEUES,
    }


def load_project(path: Path) -> Project:
    """Read and validate ``state/project.yaml``."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise StateError("the project file is missing", file=path, fix="run `aios init` here") from None
    data = _yaml.load(text, file=path, error=StateError)
    return _yaml.validate(Project, data, file=path, text=text, error=StateError)
