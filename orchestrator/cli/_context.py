"""What every command gets from the global options: the workspace and the acting identity."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from orchestrator.state.workspace import Workspace


@dataclass
class CliState:
    """Global options, resolved on first use."""

    root: Path | None
    actor: str | None
    quiet: bool = False
    """``-q``: no progress lines on stderr (results and errors still print)."""
    verbose: int = 0
    """``-v``: each evidence check's command, outcome and duration on stderr; ``-vv`` debug logs."""
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        """The workspace at ``--root``, or the one found by walking up from the current directory."""
        if self._workspace is None:
            from orchestrator.state.workspace import Workspace

            self._workspace = Workspace.find(self.root, explicit=self.root is not None)
        return self._workspace

    def who(self) -> str:
        """The acting identity: ``--actor``/``AIOS_ACTOR``, else the login name.

        Raises:
            PermissionDenied: the name holds a control character, is empty or is too long.
        """
        from orchestrator.state.audit import check_actor

        return check_actor(self.actor if self.actor is not None else default_actor())


def default_actor() -> str:
    """The login name of the person at the terminal."""
    return os.environ.get("USER") or getpass.getuser()


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` of the running command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj
