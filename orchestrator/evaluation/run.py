"""Run the corpus: build each case in a temporary git repository, review it, score the findings."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.evaluation.corpus import Case, build
from orchestrator.evaluation.score import CaseScore, score_case
from orchestrator.review.evidence import RunnerFactory
from orchestrator.review.round import review_static

#: Runners for a case's repository: the sandbox in the CLI, plain runners in tests.
RunnersFor = Callable[[Path], RunnerFactory]


def evaluate(cases: Sequence[Case], runners_for: RunnersFor) -> list[CaseScore]:
    """Each case reviewed by the static reviewer and scored, in corpus order."""
    return [evaluate_case(case, runners_for) for case in cases]


def evaluate_case(case: Case, runners_for: RunnersFor) -> CaseScore:
    """Build ``case`` in a fresh temporary repository, review ``main..HEAD``, score it."""
    with tempfile.TemporaryDirectory(prefix=f"aios-eval-{case.name}-") as tmp:
        repo = Path(tmp) / "repo"
        build(case, repo)
        outcome = review_static(
            repo,
            base="main",
            runners=runners_for(repo),
            criteria=case.criteria,
            queue=case.spec.queue,
        )
    score = score_case(case.name, case.spec.findings, outcome.findings, clean=case.spec.clean)
    score.errors = list(outcome.errors)
    return score
