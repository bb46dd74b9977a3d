"""What every tool shares: the workspace, the server's run options, session lookup, error mapping.

A tool never decides who may: it looks the session up (``governance.sessions.lookup``, which
refuses an unknown, expired or terminated one and audits it) and hands it to the service, whose
``authority.decide`` refuses the rest. Every ``AiosError`` becomes a ``ToolError`` whose text the
agent reads: the rule that refused, the message and the fix, with secrets masked. A session token
appears in no message and no log: only ``session_create`` returns one, to its caller.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from orchestrator.errors import AiosError, PermissionDenied
from orchestrator.redact import redact

if TYPE_CHECKING:
    from orchestrator.state.sessions import Session
    from orchestrator.state.workspace import Workspace
    from orchestrator.workflow.modes import ReviewerMode
    from orchestrator.workflow.options import RunOptions

#: How tool errors name the layer that refused: a client shows ``Error executing tool X: <text>``.
REFUSED = "refused by rule '{rule}': {message}"


@dataclass
class Shell:
    """The server's fixed choices (the person who started ``aios mcp`` made them, not the agent)."""

    root: Path
    reviewer: ReviewerMode | None = None
    """``aios mcp --reviewer``: the reviewer of every ``review_submit`` (default: the workflow's)."""
    sandbox: bool = True
    """``aios mcp --no-sandbox`` turns the sandbox off for every review this server runs."""
    http: bool = False
    """Served over streamable HTTP on 127.0.0.1 (else stdio)."""
    _shown: str | None = field(default=None, repr=False)
    """The id of the session a tool call last showed, on stdio: a stdio server has one client."""

    def workspace(self) -> Workspace:
        """The workspace, read afresh: a long-running server sees members and settings change."""
        from orchestrator.state.workspace import Workspace

        return Workspace(self.root)

    def run_options(self) -> RunOptions:
        """``aios review submit``'s options: an external builder (the agent), the server's reviewer."""
        from orchestrator.workflow.options import RunOptions

        return RunOptions(builder_mode="external", reviewer_mode=self.reviewer, sandbox=self.sandbox)

    def session(self, token: str) -> Session:
        """The live session of ``token`` (on stdio, remembered for resource reads).

        Raises:
            PermissionDenied: rule ``session``: no, an unknown, expired or terminated token (audited).
        """
        from orchestrator.governance.sessions import lookup

        found = lookup(self.workspace(), token or "")
        self.show(found.id)
        return found

    def show(self, session_id: str | None) -> None:
        """Remember the session a stdio client showed (None: it ended); HTTP has many clients."""
        if not self.http:
            self._shown = session_id

    def resource_session(self, headers: Mapping[str, str] | None, *, what: str) -> Session:
        """The session a resource read acts in: over HTTP the ``Authorization: Bearer <token>``
        header; on stdio the session its one client last showed to a tool.

        Raises:
            PermissionDenied: rule ``session``: none, or it ended since (audited).
        """
        from orchestrator.governance.authority import audited, require_live
        from orchestrator.state import sessions

        ws = self.workspace()
        if self.http:
            bearer = (headers or {}).get("authorization", "")
            return self.session(bearer.removeprefix("Bearer ").strip())
        held = sessions.load(ws).by_id(self._shown) if self._shown else None
        with audited(ws, actor=held.actor if held else "an MCP client", what=what, session=held):
            if held is None:
                raise PermissionDenied(
                    "no live session shown to this server yet, and a resource carries no token",
                    rule="session",
                    fix="call session_create, or any tool with your session_token, first",
                )
            require_live(ws, held)
        return held


def tool_error(exc: AiosError) -> ToolError:
    """``exc`` as the tool error an agent reads: a refusal names its rule; secrets are masked."""
    if isinstance(exc, PermissionDenied):
        text = REFUSED.format(rule=exc.rule, message=exc.message)
        text += f"\n  fix: {exc.fix}" if exc.fix else ""
    else:
        text = exc.render()
    return ToolError(redact(text))


@contextmanager
def as_tool_errors() -> Iterator[None]:
    """Turn every ``AiosError`` raised in the block into a ``ToolError`` (``tool_error``)."""
    try:
        yield
    except AiosError as exc:
        raise tool_error(exc) from None
