"""A review finding: one problem at one place, from evidence or from a persona model call."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.redact import mask_secrets


class Dimension(StrEnum):
    """The four review dimensions."""

    QUALITY = "Q"
    REQUIREMENTS = "R"
    COMPLETENESS = "C"
    OPTIMIZATION = "O"


class Severity(StrEnum):
    """How bad a finding is; ``critical`` and ``major`` block approval by the default policy."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Order for comparisons: ``critical`` 3, ``major`` 2, ``minor`` 1, ``info`` 0."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        """True when this severity is as bad as ``other`` or worse."""
        return self.rank >= other.rank


_RANK = {Severity.CRITICAL: 3, Severity.MAJOR: 2, Severity.MINOR: 1, Severity.INFO: 0}


class Finding(BaseModel):
    """One problem the reviewer found."""

    model_config = ConfigDict(extra="forbid")

    dimension: Dimension
    severity: Severity
    message: str = Field(min_length=1)
    file: str | None = None
    """Path relative to the repository root, or None for a change-wide finding."""
    line: int | None = Field(default=None, ge=1)
    rule: str | None = None
    """Rule id for evidence findings (``S608``, ``C901``, ``acceptance:AC1``); None for model findings."""
    suggestion: str | None = None
    persona: str | None = None
    """The persona whose review produced it; None for evidence."""
    source: str = "model"
    """``model`` or the evidence tool that produced it (``ruff``, ``detect-secrets``, ``pytest`` ...)."""

    @field_validator("message", "suggestion")
    @classmethod
    def _masked(cls, text: str | None) -> str | None:
        # A finding is stored (reports, state, checkpoints), printed and sent back to models.
        return mask_secrets(text) if text else text

    @property
    def where(self) -> str:
        """``file:line``, the file alone, or ``the change`` for a change-wide finding."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or "the change"

    def summary(self, *, suggestion: bool = False, dimension: bool = True) -> str:
        """The finding on one line, as every list shows it: ``app/db.py:12 S608: message``.

        Lists add their own prefix (severity, an id); a finding with no rule is labelled with its
        dimension (``README.md:5 Q: message``) unless the list already shows it (``dimension=False``:
        ``major Q README.md:5: message``, not ``major Q README.md:5 Q: message``). With
        ``suggestion`` the fix follows.
        """
        label = self.rule or (self.dimension.value if dimension else "")
        text = f"{self.where}{' ' + label if label else ''}: {self.message}"
        if suggestion and self.suggestion:
            text += f" Suggestion: {self.suggestion}"
        return text

    @property
    def fingerprint(self) -> str:
        """A stable id across rounds: dimension, file, rule and normalised text; not the line."""
        text = _normalise(self.message)
        raw = "|".join((self.dimension.value, self.file or "", self.rule or "", text))
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


_NOISE = re.compile(r"\d+|[^\w\s]")


def _normalise(message: str) -> str:
    # Line numbers and punctuation shift between rounds; the words identify the finding.
    return " ".join(_NOISE.sub(" ", message.lower()).split())
