"""One review round: inputs computed once, the panel after the evidence, static is the same round."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from orchestrator import redact
from orchestrator.llm import Message, get_model
from orchestrator.llm.fake import FakeInfo, FakeModel, install_fake
from orchestrator.review import round as review_round
from orchestrator.review.evidence import RunnerFactory, quality
from orchestrator.review.findings import Dimension
from orchestrator.review.personas import load_dimensions, load_persona
from orchestrator.review.reviewer import Panel
from orchestrator.review.settings import ReviewSettings

from .sample import CRITERIA, DEFECTIVE_USERS, FIXED_TESTS, FIXED_USERS, SampleRepo


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    real = getattr(review_round, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(review_round, name, counted)
    return calls


def test_a_round_computes_its_diff_log_and_delta_once(
    sample_repo: SampleRepo, runners: Callable[[Path], RunnerFactory], monkeypatch: pytest.MonkeyPatch
) -> None:
    round1 = sample_repo.commit({"app/users.py": DEFECTIVE_USERS}, "round 1")
    round2 = sample_repo.commit({"app/users.py": FIXED_USERS, "tests/test_users.py": FIXED_TESTS}, "round 2")
    review_round._git_view.cache_clear()
    diffs, deltas, logs = (_counting(monkeypatch, n) for n in ("git_diff", "delta_since", "commit_messages"))

    def inputs() -> review_round.RoundInputs:  # what each graph node asks for: four checks, then the verdict
        return review_round.round_inputs(
            sample_repo.path, base=sample_repo.base, head=round2, criteria=CRITERIA, since=round1
        )

    results = [review_round.check(d, inputs(), runners(sample_repo.path)) for d in Dimension]
    outcome = review_round.conclude(inputs(), results, ReviewSettings().policy)
    assert (len(diffs), len(deltas), len(logs)) == (1, 1, 1)
    assert outcome.head == round2 and {r.dimension for r in results} == set(Dimension)


def test_four_checks_starting_at_once_compute_the_diff_once(
    sample_repo: SampleRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graph's four check nodes ask for the round's inputs at the same moment."""
    head = sample_repo.commit({"app/users.py": DEFECTIVE_USERS}, "work")
    review_round._git_view.cache_clear()
    real, calls, ready = review_round.git_diff, [], threading.Barrier(4)

    def slow_diff(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        time.sleep(0.2)  # long enough for every thread to ask before the first one has the answer
        return real(*args, **kwargs)

    monkeypatch.setattr(review_round, "git_diff", slow_diff)

    def inputs(_: int) -> review_round.RoundInputs:
        ready.wait()
        return review_round.round_inputs(sample_repo.path, base=sample_repo.base, head=head)

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(inputs, range(4)))
    assert len(calls) == 1 and all(g.diff is got[0].diff for g in got)


def test_the_static_reviewer_is_the_round_without_a_panel(
    sample_repo: SampleRepo, runners: Callable[[Path], RunnerFactory]
) -> None:
    head = sample_repo.commit({"app/users.py": DEFECTIVE_USERS}, "work")
    static = review_round.review_static(
        sample_repo.path, base="main", runners=runners(sample_repo.path), criteria=CRITERIA
    )
    inputs = review_round.round_inputs(sample_repo.path, base="main", head=head, criteria=CRITERIA)
    by_hand = review_round.conclude(
        inputs,
        [review_round.check(d, inputs, runners(sample_repo.path)) for d in Dimension],
        ReviewSettings().policy,
    )
    assert static.summary() == by_hand.summary()
    assert static.unchecked_criteria == ["AC3"]


def test_no_dimensions_prompt_holds_a_secret_only_detect_secrets_recognises(
    sample_repo: SampleRepo, runners: Callable[[Path], RunnerFactory]
) -> None:
    # Hex reads like a commit id to the redactor's shape rules, so only the secrets scan can catch it.
    rng = random.Random(7)
    secret = "".join(rng.choice("0123456789abcdef") for _ in range(40))
    head = sample_repo.commit({"app/settings.py": f'SIGNING_KEY = "{secret}"\n'}, "settings")
    prompts: list[str] = []

    def persona(messages: list[Message], info: FakeInfo) -> dict[str, Any]:
        prompts.append("\n".join(str(m.content) for m in messages))
        return {"findings": []}

    inputs = review_round.round_inputs(sample_repo.path, base="main", head=head, criteria=CRITERIA)
    with install_fake(FakeModel(persona)):
        panel = Panel(
            template="$card\n$evidence\n$change",
            dimensions=load_dimensions(),
            personas=[load_persona("security_expert")],
            models={"security_expert": get_model("fake")},
            card="T1",
        )
        # Requirements first, alone: its prompt is built before the Q check has run at all.
        for dimension in (Dimension.REQUIREMENTS, Dimension.QUALITY, Dimension.OPTIMIZATION):
            review_round.check(dimension, inputs, runners(sample_repo.path), panel=panel)
    assert len(prompts) == 3 and secret in redact.found()
    assert all(secret not in p for p in prompts)


def test_the_checks_of_a_round_share_one_secrets_scan(
    sample_repo: SampleRepo, runners: Callable[[Path], RunnerFactory], monkeypatch: pytest.MonkeyPatch
) -> None:
    head = sample_repo.commit({"app/users.py": DEFECTIVE_USERS}, "work")
    scans: list[object] = []
    real = quality.secrets_check
    monkeypatch.setattr(quality, "secrets_check", lambda ctx, run: scans.append(ctx) or real(ctx, run))
    settings = ReviewSettings()
    panel = Panel(template="$change", dimensions=load_dimensions(), personas=[], models={}, card="T1")
    for dimension in Dimension:  # each graph node builds its own inputs, as the wiring does
        inputs = review_round.round_inputs(sample_repo.path, base="main", head=head, settings=settings)
        review_round.check(dimension, inputs, runners(sample_repo.path), panel=panel)
    assert len(scans) == 1  # R, C and O ask for it before their prompts; Q's evidence reuses it
