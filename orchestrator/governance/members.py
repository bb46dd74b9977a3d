"""Members: who belongs to the project, at which authority level, and which human is acting.

Only a project owner (L0) adds, changes or removes members; the last owner can be neither removed
nor demoted, so a project always has someone with final authority. Every entry point (the CLI now,
MCP and the web next) calls these. Each change, and each refusal, is a line in the governance log
(``ops/audit/governance.md``); ``state/project.yaml`` is changed under the state lock.

Identity (`identify`) is attribution, not authentication: on one machine anyone can pass
``--actor`` or set git's ``user.email``. Agents authenticate with session tokens instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from orchestrator.errors import ConfigError, PermissionDenied
from orchestrator.governance.authority import audited, decide
from orchestrator.governance.matrix import Op
from orchestrator.sandbox import git
from orchestrator.state.audit import actor_kind, append_governance
from orchestrator.state.project import ROLES, SCHEMA_VERSION, Level, Member, Project, update_project
from orchestrator.state.sessions import Session
from orchestrator.state.workspace import Workspace


@dataclass(frozen=True)
class Change:
    """What a member command did."""

    member: Member
    """The member as they are now (for a removal: as they were)."""
    before: Member | None
    """The member before the change; None when they were added."""
    migrated: bool
    """``project.yaml`` was a schema_version 1 file and has been rewritten as version 2."""
    removed: bool = False

    @property
    def kind(self) -> str:
        """``added``, ``changed`` or ``unchanged`` (``add``); ``removed`` (``remove``)."""
        if self.removed:
            return "removed"
        if self.before is None:
            return "added"
        return "unchanged" if self.before == self.member else "changed"


def describe(member: Member) -> str:
    """``bob: lead (L2)``."""
    return f"{member.name}: {member.role} ({member.level.label})"


def add(
    ws: Workspace,
    name: str,
    role: str,
    *,
    actor: str,
    email: str | None = None,
    session: Session | None = None,
) -> Change:
    """Add member ``name`` with ``role``, or change an existing member's role (and email, if given).

    Raises:
        PermissionDenied: ``actor`` is not an owner (L0), or this would demote the last owner.
        ConfigError: a bad name, role or email, or an email that already identifies another member.
    """
    what = f"member add {name} --role {role}"

    def change(project: Project) -> Project | None:
        old = project.member(name)
        new = _new_member(name, role, email if email is not None else (old.email if old else None))
        if old == new:
            return None
        _refuse_taken_email(project, new)
        if old is not None and old.level is Level.OWNER and new.level is not Level.OWNER:
            _refuse_last_owner(project, name, becoming=f"become {role}")
        members = [new if m.name == name else m for m in project.members]
        return _with_members(project, members if old else [*members, new])

    before, after = _governed(ws, actor, session, what, change)
    result = Change(_found(after, name), before.member(name), before.read_version != SCHEMA_VERSION)
    if result.kind != "unchanged" or result.migrated:
        _log(ws, actor, _change_text(result))
    return result


def remove(
    ws: Workspace, name: str, *, actor: str, reason: str | None = None, session: Session | None = None
) -> Change:
    """Remove member ``name``; ``reason`` goes on the governance log.

    Raises:
        PermissionDenied: ``actor`` is not an owner (L0), or ``name`` is the last owner.
        ConfigError: no member is called ``name``.
    """
    what = f"member remove {name}"

    def change(project: Project) -> Project:
        if project.member(name) is None:
            raise ConfigError(
                f"no member is called {name!r}",
                field="name",
                fix="`aios member list` shows the members (names are case-sensitive)",
            )
        _refuse_last_owner(project, name, becoming="be removed")
        return _with_members(project, [m for m in project.members if m.name != name])

    before, _ = _governed(ws, actor, session, what, change)
    gone = _found(before, name)
    result = Change(gone, gone, before.read_version != SCHEMA_VERSION, removed=True)
    _log(
        ws, actor, f"member remove {describe(gone)}" + (f" · {reason}" if reason else "") + _migrated(result)
    )
    return result


# --- identity ----------------------------------------------------------------------------------------


def git_email(cwd: Path) -> str | None:
    """git's ``user.email`` as seen from ``cwd`` (repository, global, then system config).

    None when it is unset, or git is missing or cannot run there.
    """
    try:
        done = git.run(cwd, "config", "--get", "user.email", check=False)
    except git.GitError:
        return None
    return done.stdout.decode("utf-8", "replace").strip() or None


def identify(project: Project | None, email: str | None, login: str) -> str:
    """The member a person at this machine acts as, when they name none (no ``--actor``).

    git's ``user.email`` names them: the member with that ``email``, else the member whose name is
    that email. An email no member has falls back to ``login`` if that is a member's name (projects
    from before emails were recorded), else stays the email, which authority then refuses as no
    member. Without an email, it is ``login``.

    Example:
        >>> identify(project, "alice@example.com", "root")  # alice's entry has that email
        'alice'
    """
    if not email:
        return login
    if project is None:
        return email
    found = project.member_by_email(email) or project.member(email) or project.member(login)
    return found.name if found else email


# --- helpers -----------------------------------------------------------------------------------------


def _governed(
    ws: Workspace, actor: str, session: Session | None, what: str, change: Callable[[Project], Project | None]
) -> tuple[Project, Project]:
    """Apply ``change`` under the state lock if ``actor`` may manage members; refusals are audited."""
    with audited(ws, actor=actor, what=what, session=session):
        decide(ws, Op.MANAGE_MEMBERS, actor=actor, session=session)
        before, after = update_project(ws.project_file, ws.state_lock, change)
    ws.__dict__.pop("project", None)  # Workspace.project is a cached_property: read the new file next
    return before, after


def _new_member(name: str, role: str, email: str | None) -> Member:
    try:
        return Member(name=name, role=role, email=email)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else "name"
        fix = f"use one of {', '.join(ROLES)}" if field == "role" else f"give another {field}"
        raise ConfigError(str(first["msg"]).removeprefix("Value error, "), field=field, fix=fix) from None


def _refuse_taken_email(project: Project, new: Member) -> None:
    other = project.member_by_email(new.email) if new.email else None
    if other is not None and other.name != new.name:
        raise ConfigError(
            f"the email {new.email!r} already identifies member {other.name!r}",
            field="email",
            fix=f"each email identifies one member: give another, or remove {other.name} first",
        )


def _refuse_last_owner(project: Project, name: str, *, becoming: str) -> None:
    if [m.name for m in project.owners()] == [name]:
        raise PermissionDenied(
            f"{name} is the last project owner (L0), and a project needs one: {name} cannot {becoming}",
            rule="last-owner",
            fix="add another owner first (`aios member add NAME --role owner`)",
        )


def _with_members(project: Project, members: list[Member]) -> Project:
    return Project.model_validate(project.data() | {"members": [m.data() for m in members]})


def _found(project: Project, name: str) -> Member:
    member = project.member(name)
    assert member is not None  # the change just added it, or the lock held it in place
    return member


def _change_text(change: Change) -> str:
    if change.before is None:
        text = f"member add {change.member.name}: {_short(change.member)}"
    elif change.kind == "changed":
        text = f"member change {change.member.name}: {_short(change.before)} → {_short(change.member)}"
    else:
        text = f"member add {change.member.name}: {_short(change.member)}, unchanged"
    return text + _migrated(change)


def _short(member: Member) -> str:
    return f"{member.role} ({member.level.label})" + (f" <{member.email}>" if member.email else "")


def _migrated(change: Change) -> str:
    return " · state/project.yaml rewritten from schema_version 1 to 2" if change.migrated else ""


def _log(ws: Workspace, actor: str, text: str) -> None:
    append_governance(ws, f"{actor} ({actor_kind(actor)}) · {text}")
