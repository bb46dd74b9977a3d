"""The persona panel: each persona's model reviews one dimension of the change, given its evidence.

The model never returns a verdict (its reply schema has no such field); its findings about files
or lines outside the change are dropped and counted. ``orchestrator.review.round`` runs the panel
after a dimension's evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import resources
from orchestrator._files import read_text
from orchestrator.errors import ConfigError
from orchestrator.redact import mask_secrets
from orchestrator.review.contradicted import cap_unplaced
from orchestrator.review.diff import Diff, ground
from orchestrator.review.evidence import EvidenceResult, render_evidence
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.personas import DimensionText, Persona, load_dimensions, load_persona
from orchestrator.review.untrusted import untrusted

if TYPE_CHECKING:
    from orchestrator.llm import Model


class ModelFinding(BaseModel):
    """A finding as a model reports it (dimension and persona are added by us)."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity
    file: str | None = None
    line: int | None = None
    message: str = Field(min_length=1)
    suggestion: str | None = None


class ReviewReply(BaseModel):
    """What a persona model may answer: findings only, no verdict."""

    model_config = ConfigDict(extra="forbid")

    findings: list[ModelFinding]


@dataclass(frozen=True)
class Panel:
    """The persona models of a round and what they are told besides the change."""

    template: str
    """The reviewer prompt (``prompts/review.md``), with ``$placeholders``."""
    dimensions: Mapping[Dimension, DimensionText]
    personas: Sequence[Persona]
    models: Mapping[str, Model]
    """One model per persona name."""
    card: str
    """The TaskCard as text."""
    near_lines: int | None = 10
    """A finding further than this from any changed hunk is dropped (None: no limit)."""


def build_panel(
    personas: Iterable[str],
    model_for: Callable[[str], Model],
    *,
    card: str,
    near_lines: int | None,
    workspace: Path | None = None,
) -> Panel:
    """The panel of ``personas``, each with ``model_for(name)``, reading the reviewer prompt.

    ``aios review run`` (a task's personas and models) and ``aios eval --model`` (the default
    personas, one model) build theirs here. ``workspace`` overrides the shipped prompt and personas.

    Raises:
        ConfigError: an unknown persona, or an unreadable prompt or persona file.
    """
    loaded = [load_persona(n, workspace=workspace) for n in personas]
    template = read_text(resources.data_file("prompts", "review.md", workspace=workspace), error=ConfigError)
    return Panel(
        template=template,
        dimensions=load_dimensions(workspace=workspace),
        personas=loaded,
        models={p.name: model_for(p.name) for p in loaded},
        card=card,
        near_lines=near_lines,
    )


@dataclass
class Asked:
    """What the panel said about one dimension."""

    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    """Findings about files or lines outside the change, dropped."""
    errors: list[str] = field(default_factory=list)
    """Personas that could not answer (provider errors, garbage): each blocks the verdict."""


def ask_panel(
    panel: Panel,
    dimension: Dimension,
    *,
    diff: Diff,
    evidence: Sequence[EvidenceResult],
    worktree: Path,
    change: str,
) -> Asked:
    """Ask each persona's model, in parallel, to review ``dimension`` of the change given its evidence.

    Args:
        change: the change as the models read it (numbered diff, or the delta and open findings).
    """

    # What a check printed is the code under review's to write; stable first, so the same output
    # gets the same block tag and a recorded run replays.
    def fence(label: str, text: str) -> str:
        return untrusted(label, stable_text(text, worktree))

    evidence_text = stable_text(render_evidence(evidence, fence=fence), worktree)
    asked = Asked()
    with ThreadPoolExecutor(
        max_workers=len(panel.personas) or 1, thread_name_prefix=f"review-{dimension}"
    ) as pool:
        futures = [
            pool.submit(_ask, panel, dimension, persona, change, evidence_text, diff)
            for persona in panel.personas
        ]
        for future in futures:
            findings, dropped, error = future.result()
            asked.findings.extend(findings)
            asked.dropped += dropped
            if error:
                asked.errors.append(mask_secrets(error))
    return asked


_TIMINGS = re.compile(r"\b\d+(?:\.\d+)?m?s\b")


def stable_text(text: str, worktree: Path) -> str:
    """Evidence without volatile details (the worktree's absolute path, timings).

    Identical evidence then makes identical prompts: provider prompt caches hit, and a recorded
    run replays.
    """
    return _TIMINGS.sub("<t>", text.replace(str(worktree), "."))


def prompt_for(dimension: Dimension, persona: Persona, panel: Panel, change: str, evidence_text: str) -> str:
    """The reviewer prompt for one persona on one dimension."""
    text = panel.dimensions[dimension]
    return Template(panel.template).safe_substitute(
        persona_title=persona.title,
        persona_focus=persona.focus,
        checklist="\n".join(f"- {item}" for item in persona.checklist),
        severity="\n".join(f"- {level}: {text}" for level, text in persona.severity.items()),
        dimension_name=text.name,
        dimension_code=dimension.value,
        dimension_focus=text.focus,
        card=untrusted("TaskCard", panel.card),
        evidence=evidence_text or "(none)",
        change=untrusted("change", change),
    )


def _ask(
    panel: Panel, dimension: Dimension, persona: Persona, change: str, evidence_text: str, diff: Diff
) -> tuple[list[Finding], int, str | None]:
    from orchestrator.errors import AiosError, RunStopped

    prompt = prompt_for(dimension, persona, panel, change, evidence_text)
    try:
        reply = panel.models[persona.name].structured(prompt, ReviewReply, node=f"check_{dimension.value}")
    except RunStopped:
        raise  # a person stopped the run: not a persona's error, the round goes no further
    except AiosError as exc:
        return [], 0, f"{dimension.value}/{persona.name}: {exc.message}"
    findings = [
        cap_unplaced(Finding(dimension=dimension, persona=persona.name, source="model", **item.model_dump()))
        for item in reply.findings
    ]
    kept, dropped = ground(findings, diff, near=panel.near_lines)
    return kept, len(dropped), None
