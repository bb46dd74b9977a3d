"""Who may do what: human members act through their roles' permissions; agents never hold them."""

from __future__ import annotations

from orchestrator.errors import PermissionDenied
from orchestrator.state.audit import actor_kind, check_actor
from orchestrator.state.project import Permission
from orchestrator.state.workspace import Workspace


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
