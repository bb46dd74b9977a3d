"""Who may do what: human members act through their roles' permissions; agents never hold them."""

from __future__ import annotations

from orchestrator.errors import PermissionDenied
from orchestrator.state import queues
from orchestrator.state.audit import actor_kind, check_actor
from orchestrator.state.project import Permission
from orchestrator.state.records import TaskState
from orchestrator.state.workspace import Workspace

#: Lifecycle actions that only a human member with the given permission may take.
HUMAN_ONLY: dict[str, tuple[Permission, str]] = {
    "approve": (Permission.APPROVE_TASK, "approve a task to start"),
    "unblock": (Permission.UNBLOCK, "unblock a task"),
    "merge": (Permission.MERGE, "approve a merge"),
}


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


def authorise(ws: Workspace, task: TaskState, action: str, actor: str) -> None:
    """Refuse unless ``actor`` may take lifecycle ``action`` on ``task`` (``state.tasks.Authorise``).

    Human-only actions need their permission; ``start`` does too in a queue that requires
    human approval. Every other move is open to agents and members alike.

    Raises:
        PermissionDenied: naming the permission and who holds it.
    """
    if action in HUMAN_ONLY:
        permission, doing = HUMAN_ONLY[action]
        require(ws, actor, permission, doing=doing)
    elif action == "start" and queues.policy(ws, task.queue).requires_human_approval:
        require(ws, actor, Permission.APPROVE_TASK, doing=f"start a task in the {task.queue} queue")


def authorise_lock(ws: Workspace, actor: str, locked: bool) -> None:
    """Refuse unless ``actor`` may lock (or unlock) queues (``state.queues.AuthoriseLock``).

    Raises:
        PermissionDenied: naming the permission and who holds it.
    """
    if locked:
        require(ws, actor, Permission.LOCK_QUEUE, doing="lock a queue")
    else:
        require(ws, actor, Permission.UNLOCK_QUEUE, doing="unlock a queue")
