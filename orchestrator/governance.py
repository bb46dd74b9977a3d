"""Who may do what: human members act through their roles' permissions; agents never hold them."""

from __future__ import annotations

from orchestrator._text import is_hidden, visible
from orchestrator.audit import actor_kind
from orchestrator.errors import PermissionDenied
from orchestrator.project import Permission
from orchestrator.workspace import Workspace

#: Longer names are refused: an actor is a member name or ``agent:<id>``, not a message.
MAX_ACTOR_LENGTH = 100
_ACTOR_FIX = (
    "pass --actor (or set AIOS_ACTOR) to your member name, or agent:<id> for an agent: "
    f"printable characters only, at most {MAX_ACTOR_LENGTH}"
)


def check_actor(actor: str) -> str:
    """Refuse an actor name that could forge or garble the audit trail; returns it unchanged.

    Every way an actor enters (the CLI's ``--actor``/``AIOS_ACTOR``, each service function that
    records or authorises) calls this, so no caller can write a line break or an escape sequence.

    Raises:
        PermissionDenied: the name is empty, too long, or holds a control or format character.
    """
    shown = visible(actor)
    if not actor.strip():
        raise PermissionDenied("the actor name is empty", fix=_ACTOR_FIX)
    if len(actor) > MAX_ACTOR_LENGTH:
        raise PermissionDenied(f"the actor name is {len(actor)} characters long", fix=_ACTOR_FIX)
    hidden = next((c for c in actor if is_hidden(c)), None)
    if hidden is not None:
        raise PermissionDenied(
            f"the actor name '{shown}' holds a control character, {visible(hidden)} (U+{ord(hidden):04X})",
            fix=_ACTOR_FIX,
        )
    return actor


def is_agent(actor: str) -> bool:
    """Agents act as ``agent:<id>``."""
    return actor_kind(actor) == "agent"


def require(ws: Workspace, actor: str, permission: Permission, *, doing: str) -> None:
    """Refuse unless ``actor`` is a human member whose roles grant ``permission``.

    Raises:
        PermissionDenied: with the fix naming the permission and the file that grants it.
    """
    check_actor(actor)
    if is_agent(actor):
        raise PermissionDenied(
            f"{actor} is an agent, and only a human member may {doing}",
            fix=f"ask a member whose role has the `{permission.value}` permission",
        )
    project_file = ws.rel(ws.project_file)
    if ws.project.member(actor) is None:
        raise PermissionDenied(
            f"{actor!r} is not a member of this project, so may not {doing}",
            fix=f"pass --actor with your member name, or add yourself under members in {project_file}",
        )
    if permission not in ws.project.permissions(actor):
        holders = [r for r, perms in ws.project.roles.items() if permission in perms]
        raise PermissionDenied(
            f"{actor} may not {doing}: none of their roles has the `{permission.value}` permission",
            fix=f"ask a member with one of the roles {', '.join(holders)} (see {project_file})",
        )
