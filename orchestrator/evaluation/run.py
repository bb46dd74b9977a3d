"""Run the corpus: build each case in a temporary git repository, review it, score the findings.

The static reviewer is ``review_static``; the model reviewer is the same round with a persona
panel (``aios review run --reviewer model``): each dimension's evidence, then the panel's findings
(unplaced ones capped at minor, ungrounded ones dropped), then ``conclude`` (contradicted ones
dropped). Both are scored alike.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.evaluation.corpus import Case, build
from orchestrator.evaluation.score import CaseScore, score_case
from orchestrator.review.evidence import RunnerFactory, each_dimension
from orchestrator.review.reviewer import Panel
from orchestrator.review.round import RoundOutcome, check, conclude, review_static, round_inputs
from orchestrator.review.settings import ReviewSettings

#: Runners for a case's repository: the sandbox in the CLI, plain runners in tests.
RunnersFor = Callable[[Path], RunnerFactory]


def evaluate(
    cases: Sequence[Case], runners_for: RunnersFor, *, panel: Panel | None = None
) -> list[CaseScore]:
    """Each case reviewed (by the static reviewer, or with ``panel``) and scored, in corpus order."""
    return [evaluate_case(case, runners_for, panel=panel) for case in cases]


def evaluate_case(case: Case, runners_for: RunnersFor, *, panel: Panel | None = None) -> CaseScore:
    """Build ``case`` in a fresh temporary repository, review ``main..HEAD``, score it."""
    with tempfile.TemporaryDirectory(prefix=f"aios-eval-{case.name}-") as tmp:
        repo = Path(tmp) / "repo"
        build(case, repo)
        outcome = _review(case, repo, runners_for(repo), panel)
    score = score_case(case.name, case.spec.findings, outcome.findings, clean=case.spec.clean)
    score.errors = list(outcome.errors)
    score.dropped_ungrounded = outcome.dropped_ungrounded
    score.dropped_contradicted = outcome.dropped_contradicted
    return score


def _review(case: Case, repo: Path, runners: RunnerFactory, panel: Panel | None) -> RoundOutcome:
    if panel is None:
        return review_static(
            repo, base="main", runners=runners, criteria=case.criteria, queue=case.spec.queue
        )
    settings = ReviewSettings()
    # The same inputs as the static reviewer's (no card text to scan): only the panel differs.
    inputs = round_inputs(
        repo, base="main", head="HEAD", settings=settings, criteria=case.criteria, queue=case.spec.queue
    )
    asked = dataclasses.replace(panel, card=card_text(case))
    results = each_dimension(lambda d: check(d, inputs, runners, panel=asked))
    return conclude(inputs, results, settings.policy)


def card_text(case: Case) -> str:
    """What the panel reads as the case's TaskCard: its acceptance criteria only.

    Never the case's description: it is the label, and would tell the model the answer.
    """
    if not case.criteria:
        return "(no TaskCard: review the change on its own merits)"
    lines = [f"- {c.id}: {c.text}" + (f" (check: `{c.check}`)" if c.check else "") for c in case.criteria]
    return "Acceptance criteria:\n" + "\n".join(lines)
