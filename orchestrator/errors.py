"""The exceptions a user can see.

AiosError                 any refusal or user mistake; the CLI prints it and exits 1
├── ConfigError           a TaskCard, persona, prompt, workflow or project setting is wrong
├── StateError            a state file is broken, locked or inconsistent
│   └── TransitionError   a lifecycle move that is not allowed from the task's status
├── PermissionDenied      the actor's role or mode does not allow the action
├── QueueError            a queue is full or locked
├── RunStopped            a person stopped a running workflow: a freeze, a lock, a stop (governance.guard)
├── GitError              a git operation failed (orchestrator.sandbox.git; MergeConflict)
├── SandboxUnavailable    bubblewrap is missing and --no-sandbox was not given (orchestrator.sandbox.bwrap)
├── CommandRefused        a command outside the allow-list (orchestrator.sandbox.bwrap)
├── FileToolError         a file tool failed (orchestrator.sandbox.confined_fs; PathEscape)
└── ProviderError         a model provider failed (see orchestrator.llm.errors)

Anything else escaping to the CLI is a bug: it is logged with its traceback and exits 70.
"""

from __future__ import annotations

from pathlib import Path


class AiosError(Exception):
    """A refusal or user mistake, rendered as one clear paragraph.

    Args:
        message: what went wrong, in a sentence.
        file: the file at fault, if any.
        field: the field path inside that file (``acceptance_criteria[1].text``).
        line: the 1-based line of that field, when known.
        fix: what the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.line = line
        self.fix = fix

    def render(self) -> str:
        """The message as the CLI prints it: ``file:line: field: message`` then ``fix: ...``."""
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        if self.field:
            where += f"{self.field}: "
        text = where + self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text

    def __str__(self) -> str:
        return self.render()


class ConfigError(AiosError):
    """A TaskCard, persona, prompt, workflow or project setting is wrong."""


class StateError(AiosError):
    """A state file is broken, locked or inconsistent."""


class TransitionError(StateError):
    """A lifecycle move that the task's current status does not allow."""


class PermissionDenied(AiosError):
    """The actor's role or mode does not allow the action.

    ``rule`` names the governance rule that refused it (``authority-level``, ``role-mode``,
    ``task-scope``, ``session``, ...): the audit trail records it with the refusal.
    """

    def __init__(self, message: str, *, rule: str = "authority", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.rule = rule


class QueueError(AiosError):
    """A queue is full or locked."""


class RunStopped(AiosError):
    """A running workflow stopped at its next step because a person stopped it: a system freeze,
    a queue lock, the task stopped or blocked, or moved by someone else. The message says who and
    why; the fix says how to go on (the checkpoint is where it was, so the run resumes)."""


class ProviderError(AiosError):
    """A model provider failed; raised only at the adapter edge."""
