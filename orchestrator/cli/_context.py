"""What every command gets from the global options: the workspace and the acting identity."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from orchestrator.state.sessions import Session
    from orchestrator.state.workspace import Workspace


@dataclass
class CliState:
    """Global options, resolved on first use."""

    root: Path | None
    actor: str | None
    session_token: str | None = field(default=None, repr=False)
    """``--session``/``AIOS_SESSION``: an agent's session token (never printed)."""
    quiet: bool = False
    """``-q``: no progress lines on stderr (results and errors still print)."""
    verbose: int = 0
    """``-v``: each evidence check's command, outcome and duration on stderr; ``-vv`` debug logs."""
    _workspace: Workspace | None = field(default=None, repr=False)
    _session: Session | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        """The workspace at ``--root``, or the one found by walking up from the current directory."""
        if self._workspace is None:
            from orchestrator.state.workspace import Workspace

            self._workspace = Workspace.find(self.root, explicit=self.root is not None)
        return self._workspace

    def who(self) -> str:
        """The acting identity: the session's agent, else ``--actor``/``AIOS_ACTOR``, else the login name.

        Raises:
            PermissionDenied: the name holds a control character, is empty or is too long; or a
                session is given and is unknown, terminated or expired, or belongs to another actor.
        """
        from orchestrator.errors import PermissionDenied
        from orchestrator.state.audit import check_actor

        session = self.session()
        if session is None:
            return check_actor(self.actor if self.actor is not None else default_actor())
        if self.actor is not None and self.actor != session.actor:
            raise PermissionDenied(
                f"--actor says {self.actor!r} but the session belongs to {session.actor}",
                rule="session",
                fix="leave out --actor (AIOS_ACTOR) when acting through a session",
            )
        return session.actor

    def session(self) -> Session | None:
        """The live session named by ``--session``/``AIOS_SESSION``, if any (checked once per command).

        Raises:
            PermissionDenied: the token is unknown, or its session is terminated or expired.
        """
        if self.session_token and self._session is None:
            from orchestrator.governance.sessions import lookup

            self._session = lookup(self.workspace(), self.session_token)
        return self._session


def default_actor() -> str:
    """The login name of the person at the terminal."""
    return os.environ.get("USER") or getpass.getuser()


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` of the running command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj
