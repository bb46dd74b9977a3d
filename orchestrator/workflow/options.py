"""What a caller chooses for one review run: the builder and reviewer modes, the model, the sandbox.

Every entry point (CLI, MCP, web) builds a ``RunOptions`` and passes it to ``runs.run`` or
``runs.answer``; ``wiring.make_context`` reads it. The progress callback is not data and travels
beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from orchestrator.errors import StateError
from orchestrator.workflow.modes import BuilderMode, ReviewerMode

#: The command-line flag of each mode, for messages that tell the user what to pass.
_FLAGS = {"builder_mode": "--builder", "reviewer_mode": "--reviewer"}


class RunOptions(BaseModel):
    """One run's choices. A mode left None is the run's saved mode, else the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    builder_mode: BuilderMode | None = None
    """``agent`` builds; ``external``: a person or another agent commits and submits (default agent)."""
    reviewer_mode: ReviewerMode | None = None
    """``model``: evidence plus persona models; ``static``: evidence only (default model)."""
    model: str | None = None
    """Model for every role, or ``role=model[,...]``; None: ``AIOS_MODEL``, the card, the workflow."""
    base_url: str | None = None
    """An OpenAI-compatible server."""
    record: Path | None = None
    """Write every model request and response to this JSONL file."""
    sandbox: bool = True
    """Run commands in bubblewrap; False runs them unconfined (unsafe)."""

    @property
    def builder(self) -> BuilderMode:
        """The builder mode this run uses."""
        return self.builder_mode or "agent"

    @property
    def reviewer(self) -> ReviewerMode:
        """The reviewer mode this run uses."""
        return self.reviewer_mode or "model"

    def modes(self) -> dict[str, str]:
        """The modes as the checkpoint keeps them, so a resumed run goes on with the same ones."""
        return {"builder_mode": self.builder, "reviewer_mode": self.reviewer}

    def resumed_with(self, saved: Mapping[str, str]) -> RunOptions:
        """These options for a run that started with the ``saved`` modes: it keeps them.

        Raises:
            StateError: these options ask for a different mode than the run started with.
        """
        for key, value in saved.items():
            asked = getattr(self, key)
            if asked not in (None, value):
                flag = _FLAGS[key]
                raise StateError(
                    f"this review run started with {flag} {value}, not {asked}",
                    fix=f"leave out {flag} (or pass {flag} {value}) to go on with it",
                )
        return self.model_validate({**self.model_dump(), **saved})
