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
        """The acting identity: the session's agent, else ``--actor``/``AIOS_ACTOR``, else git's
        ``user.email`` mapped to a member.

        Without ``--actor``, the member whose ``email`` (or name) is git's ``user.email`` acts
        (``governance.members.identify``); with no email, the login name. Attribution, not
        authentication: anyone at this machine can name anyone. Agents authenticate by session.

        Raises:
            PermissionDenied: the name holds a control character, is empty or is too long; or a
                session is given and is unknown, terminated or expired, or belongs to another actor.
        """
        from orchestrator.state.audit import check_actor

        session = self.session()
        if session is not None:
            return session.actor
        if self.actor is not None:
            return check_actor(self.actor)
        from orchestrator.errors import AiosError
        from orchestrator.governance.members import identify

        try:
            project = self.workspace().project
        except AiosError:  # no workspace, or a broken project file: the command itself reports it
            project = None
        return check_actor(identify(project, self.git_email(), default_actor()))

    def owner(self, where: Path) -> tuple[str, str | None]:
        """Who ``aios init`` at ``where`` makes the owner: ``--actor``, else git's ``user.email``, else
        the login name; and git's ``user.email`` (None when git has none), recorded as their email.
        """
        from orchestrator.state.audit import check_actor

        email = self.git_email(where)
        return check_actor(self.actor if self.actor is not None else (email or default_actor())), email

    def git_email(self, where: Path | None = None) -> str | None:
        """git's ``user.email`` at ``where`` (default: the workspace, ``--root``, or here)."""
        from orchestrator.governance.members import git_email

        if where is None:
            where = self._workspace.root if self._workspace is not None else (self.root or Path.cwd())
        return git_email(where)

    def session(self) -> Session | None:
        """The live session named by ``--session``/``AIOS_SESSION``, if any (checked once per command).

        Raises:
            PermissionDenied: the token is unknown, or its session is terminated or expired.
        """
        if self.session_token and self._session is None:
            from orchestrator.governance.sessions import lookup

            self._session = lookup(self.workspace(), self.session_token, claimed=self.actor)
        return self._session


def default_actor() -> str:
    """The login name of the person at the terminal."""
    return os.environ.get("USER") or getpass.getuser()


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` of the running command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj
