"""The TaskCard: Markdown with YAML front matter (the spec and its acceptance criteria).

---
id: TASK_DEV_0001
title: Rate-limit the login endpoint
queue: dev
priority: 2
role_mode: builder
acceptance_criteria:
  - id: AC1
    text: Six failed logins in a minute get HTTP 429
    check: pytest tests/test_login.py -q
personas: [security_expert, testing_expert]
paths: [src/auth/, tests/]
target_branch: main
---
Free Markdown: context, notes, links.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator import _yaml
from orchestrator._files import read_text
from orchestrator.errors import ConfigError
from orchestrator.sandbox.bwrap import QUOTES_FIX, CommandRefused, split_command

TASK_ID = re.compile(r"^TASK_([A-Z][A-Z0-9]*)_(\d{4,})$")
_FENCE = "---"
#: A branch name git accepts, roughly (`git check-ref-format`); never an option (``-...``).
_BRANCH = re.compile(r"[^-\s~^:?*\[\\][^\s~^:?*\[\\]*")


class RoleMode(StrEnum):
    """What kind of agent may work the task (the operating model's role-mode matrix)."""

    ARCHITECT = "architect"
    PLANNER = "planner"
    EXECUTOR = "executor"
    BUILDER = "builder"
    REVIEWER = "reviewer"
    """The review agent's mode: a session may hold it, a TaskCard may not ask for it."""


class Criterion(BaseModel):
    """One acceptance criterion; ``check`` is a command whose exit status proves it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    text: str = Field(min_length=1)
    check: str | None = None
    """A command (``pytest tests/test_login.py -q``); a card's quotes must balance (``check_commands``)."""


class TaskCard(BaseModel):
    """The validated front matter of a TaskCard, plus its Markdown body."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=1, max_length=200)
    queue: str
    priority: int = Field(default=3, ge=1, le=5)
    """1 is the most urgent."""
    role_mode: RoleMode = RoleMode.BUILDER
    acceptance_criteria: list[Criterion] = Field(min_length=1)
    personas: list[str] = Field(default_factory=list)
    """Reviewer personas; empty means the workflow's default set."""
    paths: list[str] = Field(default_factory=list)
    """Paths in scope for the builder (folders end with ``/``); empty means the whole repository."""
    target_branch: str | None = None
    """The branch the change merges into. ``aios task new`` writes the repository's default branch
    (the one checked out, ``master`` or ``trunk`` as much as ``main``) into the card it creates; a
    card registered from a file without one gets the default branch when its review runs."""
    models: dict[str, str] = Field(default_factory=dict)
    """Per-role model overrides (``builder: openai:gpt-5-mini``)."""
    body: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not TASK_ID.match(value):
            raise ValueError(f"id {value!r} must look like TASK_<QUEUE>_<NNNN>, e.g. TASK_DEV_0001")
        return value

    @field_validator("role_mode")
    @classmethod
    def _work_mode(cls, value: RoleMode) -> RoleMode:
        if value is RoleMode.REVIEWER:
            raise ValueError(
                "reviewer is the review agent's mode; a task is for architect, planner, executor or builder"
            )
        return value

    @field_validator("target_branch")
    @classmethod
    def _branch_shape(cls, value: str | None) -> str | None:
        if value is not None and not _BRANCH.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a branch name: no spaces, no leading '-', "
                "none of ~ ^ : ? * [ \\; leave it out to use the repository's default branch"
            )
        return value

    @model_validator(mode="after")
    def _id_matches_queue(self) -> TaskCard:
        match = TASK_ID.match(self.id)
        if match and match.group(1) != self.queue.upper():
            raise ValueError(f"id {self.id} belongs to queue {match.group(1).lower()}, not {self.queue!r}")
        ids = [c.id for c in self.acceptance_criteria]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"acceptance criterion ids must be unique; repeated: {', '.join(dupes)}")
        return self


def task_id(queue: str, number: int) -> str:
    """``task_id("dev", 7) == "TASK_DEV_0007"``."""
    return f"TASK_{queue.upper()}_{number:04d}"


def parse(text: str, *, file: str | Path) -> TaskCard:
    """Parse a TaskCard's text.

    Raises:
        ConfigError: no front matter, bad YAML, or a field that does not validate; names the line.
    """
    front, body = _split(text, file)
    offset = 1  # the front matter starts on line 2, after the opening ---
    data = _yaml.load(front, file=file, line_offset=offset)
    if not isinstance(data, dict):
        raise ConfigError(
            "the front matter must be a YAML mapping of fields",
            file=file,
            line=2,
            fix="write `key: value` lines between the two --- lines",
        )
    if "body" in data:
        raise ConfigError("unknown field", file=file, field="body", fix="put the body after the closing ---")
    try:
        card = _yaml.validate(TaskCard, {**data, "body": body}, file=file, text=front, line_offset=offset)
    except ConfigError as exc:
        exc.line = exc.line or 2
        raise
    check_commands(card, file=file, text=front, line_offset=offset)
    return card


def check_commands(
    card: TaskCard, *, file: str | Path, text: str | None = None, line_offset: int = 0
) -> None:
    """Each ``check`` must split into a command (``sandbox.bwrap.split_command``): refused now, when
    the card is written or validated, rather than at review time.

    Raises:
        ConfigError: an unbalanced quote or an empty command, naming the field (and line with ``text``).
    """
    for i, criterion in enumerate(card.acceptance_criteria):
        if criterion.check is None:
            continue
        try:
            split_command(criterion.check)
        except CommandRefused as exc:
            line = _yaml.key_lines(text).get(("acceptance_criteria", i, "check")) if text else None
            raise ConfigError(
                exc.message,
                file=file,
                field=f"acceptance_criteria[{i}].check",
                line=line + line_offset if line else None,
                fix=QUOTES_FIX if criterion.check.strip() else "give a command, or remove `check:`",
            ) from None


def load(path: Path) -> TaskCard:
    """Read and parse a TaskCard file."""
    try:
        text = read_text(path, error=ConfigError)
    except FileNotFoundError:
        raise ConfigError("no such TaskCard file", file=path, fix="check the path") from None
    return parse(text, file=path)


def render(card: TaskCard) -> str:
    """The card as Markdown with front matter; ``parse(render(card)) == card``."""
    data = card.model_dump(mode="json", exclude={"body"}, exclude_defaults=False)
    for optional in ("personas", "paths", "models", "target_branch"):
        if not data[optional]:
            del data[optional]
    for criterion in data["acceptance_criteria"]:
        if criterion["check"] is None:
            del criterion["check"]
    body = card.body if card.body.endswith("\n") or not card.body else card.body + "\n"
    return f"{_FENCE}\n{_yaml.dump(data)}{_FENCE}\n{body}"


def _split(text: str, file: str | Path) -> tuple[str, str]:
    """The front matter and the body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise ConfigError(
            "a TaskCard must start with YAML front matter between --- lines",
            file=file,
            line=1,
            fix="put `---` on the first line, the fields, then `---` and the body",
        )
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == _FENCE:
            return "".join(lines[1:i]), "".join(lines[i + 1 :]).lstrip("\n")
    raise ConfigError(
        "the front matter is never closed", file=file, line=1, fix="add a line `---` after the last field"
    )
