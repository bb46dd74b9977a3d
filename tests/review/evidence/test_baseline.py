"""Baselines: what the target branch already had is pre-existing (info); a flaky test does not block."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import plain_runner_factory

from orchestrator.review.evidence import EvidenceStatus, baseline
from orchestrator.review.findings import Severity
from orchestrator.review.policy import Verdict
from orchestrator.review.round import RoundOutcome, review_static

from ..sample import BASE_TESTS, BASE_USERS, commit, git

OLD_FAILING = "def test_old_bug():\n    assert 1 + 1 == 3\n"
GREET = BASE_USERS + '\n\ndef greet(name):\n    return "hi " + normalise(name)\n'
GREET_TESTS = (
    BASE_TESTS
    + '\n\ndef test_greet():\n    from app.users import greet\n\n    assert greet(" Al") == "hi al"\n'
)
NEW_FAILING = "def test_new_bug():\n    assert 2 * 2 == 5\n"


def repo_with(tmp_path: Path, files: dict[str, str | None]) -> Path:
    """A repository whose ``main`` holds the sample app and ``files``, on a fresh task branch."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        {"app/__init__.py": "", "app/users.py": BASE_USERS, "tests/test_users.py": BASE_TESTS, **files},
        "base",
    )
    git(repo, "checkout", "-q", "-b", "task/T1")
    return repo


def review(repo: Path, head: str, cache: Path) -> RoundOutcome:
    return review_static(repo, base="main", head=head, runners=plain_runner_factory(repo), baseline_dir=cache)


def by_rule(report: RoundOutcome, rule: str) -> list[str]:
    return [f.message for f in report.findings if f.rule == rule]


@pytest.fixture
def base_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each check run on a merge base (a spy on ``baseline._run_on_base``)."""
    runs: list[str] = []
    real = baseline._run_on_base

    def spy(ctx, kind, runners, folder, timeout):  # type: ignore[no-untyped-def]
        runs.append(kind)
        return real(ctx, kind, runners, folder, timeout)

    monkeypatch.setattr(baseline, "_run_on_base", spy)
    return runs


def test_a_test_failing_on_the_base_is_pre_existing_and_does_not_block(
    tmp_path: Path, base_runs: list[str]
) -> None:
    repo = repo_with(tmp_path, {"tests/test_old.py": OLD_FAILING})
    head = commit(repo, {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS}, "greet")

    report = review(repo, head, tmp_path / "cache")

    tests = next(r for r in report.evidence if r.name == "tests")
    assert tests.status is EvidenceStatus.PASSED
    [old] = [f for f in report.findings if f.rule == "tests:pre-existing"]
    assert old.severity is Severity.INFO and "test_old_bug" in old.message and "pre-existing" in old.message
    assert by_rule(report, "tests") == []
    assert report.verdict is Verdict.APPROVED, report.reasons
    assert base_runs == ["tests"]


def test_a_new_failure_still_blocks_beside_a_pre_existing_one(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"tests/test_old.py": OLD_FAILING})
    head = commit(
        repo,
        {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS, "tests/test_new.py": NEW_FAILING},
        "new",
    )

    report = review(repo, head, tmp_path / "cache")

    tests = next(r for r in report.evidence if r.name == "tests")
    assert tests.status is EvidenceStatus.FAILED
    [new] = [f for f in report.findings if f.rule == "tests"]
    assert "test_new_bug" in new.message and new.severity is Severity.CRITICAL
    assert any("test_old_bug" in m for m in by_rule(report, "tests:pre-existing"))
    assert report.verdict is Verdict.NEEDS_REVISION
    assert any("check tests failed" in r for r in report.reasons)


LOADER = "def load(text):\n    return eval(text)\n"
LOADER_MOVED = (
    "class Loader:\n    @staticmethod\n    def load(text):\n        return eval(text)\n\n\n"
    "def parse(text):\n    return eval(text.strip())\n"
)


def test_an_old_lint_finding_on_a_moved_line_is_pre_existing_and_a_new_one_counts(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"app/loader.py": LOADER})
    head = commit(repo, {"app/loader.py": LOADER_MOVED}, "a class for the loader")

    report = review(repo, head, tmp_path / "cache")

    old = [f for f in report.findings if f.rule == "S307:pre-existing"]
    new = [f for f in report.findings if f.rule == "S307"]
    assert [(f.line, f.severity) for f in old] == [
        (4, Severity.INFO)
    ]  # matched by text, not line (2 on main)
    assert [f.line for f in new] == [8]
    assert new[0].severity is not Severity.INFO


def test_a_flaky_test_is_reported_as_flaky_and_does_not_block(tmp_path: Path, base_runs: list[str]) -> None:
    counter = tmp_path / "runs.txt"
    flaky = (
        f"from pathlib import Path\n\nCOUNTER = Path({str(counter)!r})\n\n\ndef test_sometimes():\n"
        "    n = int(COUNTER.read_text()) if COUNTER.exists() else 0\n"
        "    COUNTER.write_text(str(n + 1))\n    assert n >= 1, 'fails the first time only'\n"
    )
    repo = repo_with(tmp_path, {})
    head = commit(
        repo,
        {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS, "tests/test_flaky.py": flaky},
        "flaky",
    )

    report = review(repo, head, tmp_path / "cache")

    assert counter.read_text() == "2"  # one run, one re-run of the failed id
    tests = next(r for r in report.evidence if r.name == "tests")
    assert tests.status is EvidenceStatus.PASSED
    [found] = [f for f in report.findings if f.rule == "tests:flaky"]
    assert "test_sometimes" in found.message and found.severity is Severity.MINOR
    assert by_rule(report, "tests") == []
    assert report.verdict is Verdict.APPROVED, report.reasons
    assert base_runs == []  # nothing left to compare with the base


def test_a_test_flaky_on_the_base_does_not_hide_the_change_breaking_it(
    tmp_path: Path, base_runs: list[str]
) -> None:
    counter = tmp_path / "base-runs.txt"
    flaky_on_base = (
        f"from pathlib import Path\n\nCOUNTER = Path({str(counter)!r})\n\n\ndef test_sometimes():\n"
        "    n = int(COUNTER.read_text()) if COUNTER.exists() else 0\n"
        "    COUNTER.write_text(str(n + 1))\n    assert n >= 1, 'fails the first time only'\n"
    )
    broken = "def test_sometimes():\n    assert False, 'fails the first time only'\n"
    repo = repo_with(tmp_path, {"tests/test_flaky.py": flaky_on_base})
    head = commit(repo, {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS}, "greet")
    head = commit(repo, {"tests/test_flaky.py": broken}, "break it")

    report = review(repo, head, tmp_path / "cache")

    assert "tests" in base_runs
    assert counter.read_text() == "2"  # the base's run and its re-run of the failed id
    [failure] = [f for f in report.findings if f.rule == "tests"]
    assert "test_sometimes" in failure.message and failure.severity is Severity.CRITICAL
    assert by_rule(report, "tests:pre-existing") == []
    assert report.verdict is Verdict.NEEDS_REVISION


def test_the_base_results_are_cached_per_base_commit(tmp_path: Path, base_runs: list[str]) -> None:
    repo = repo_with(tmp_path, {"tests/test_old.py": OLD_FAILING})
    cache = tmp_path / "cache"
    first = commit(repo, {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS}, "greet")
    review(repo, first, cache)
    second = commit(repo, {"app/users.py": GREET + "\n\nSHOUT = True\n"}, "another round")

    report = review(repo, second, cache)

    assert base_runs == ["tests"]  # the second round read the cache: no second run on the base
    assert any("test_old_bug" in m for m in by_rule(report, "tests:pre-existing"))
    assert [p.name.split(".")[:2] for p in cache.iterdir()] == [
        [git(repo, "rev-parse", "main").strip(), "tests"]
    ]


def test_without_the_baseline_a_test_failing_on_the_base_blocks(tmp_path: Path, base_runs: list[str]) -> None:
    from orchestrator.review.settings import ReviewSettings

    settings = ReviewSettings.model_validate({"evidence": {"baseline": {"enabled": False}}})
    repo = repo_with(tmp_path, {"tests/test_old.py": OLD_FAILING})
    head = commit(repo, {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS}, "greet")

    report = review_static(
        repo, base="main", head=head, runners=plain_runner_factory(repo), settings=settings
    )

    assert report.verdict is Verdict.NEEDS_REVISION
    assert base_runs == []


def test_when_the_base_cannot_run_every_failure_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> set[baseline.Key]:
        raise OSError("disk full")

    monkeypatch.setattr(baseline, "_run_on_base", broken)
    repo = repo_with(tmp_path, {"tests/test_old.py": OLD_FAILING})
    head = commit(repo, {"app/users.py": GREET, "tests/test_users.py": GREET_TESTS}, "greet")

    report = review(repo, head, tmp_path / "cache")

    tests = next(r for r in report.evidence if r.name == "tests")
    assert tests.status is EvidenceStatus.FAILED
    assert "could not run" in tests.output_tail and "disk full" in tests.output_tail
    assert report.verdict is Verdict.NEEDS_REVISION
    assert not (tmp_path / "cache").exists()  # a failed base run is not cached


TORCH = "import torch\n\n\ndef load(path):\n    return torch.load(path)\n"
TORCH_MOVED = (
    "import torch\n\n\nclass Store:\n    @staticmethod\n    def load(path):\n"
    "        return torch.load(path)\n\n\n"
    "def fetch(path):\n    return torch.load(path, map_location='cpu')\n"
)


def test_an_old_bandit_finding_is_pre_existing_and_a_new_one_counts(
    tmp_path: Path, base_runs: list[str]
) -> None:
    repo = repo_with(tmp_path, {"app/store.py": TORCH})
    head = commit(repo, {"app/store.py": TORCH_MOVED}, "a class for the store")

    report = review(repo, head, tmp_path / "cache")

    old = [f for f in report.findings if f.rule == "S614:pre-existing"]
    new = [f for f in report.findings if f.rule == "S614"]
    assert [(f.line, f.severity, f.source) for f in old] == [(7, Severity.INFO, "bandit")]  # line 5 on main
    assert [(f.line, f.severity) for f in new] == [(11, Severity.MAJOR)]
    assert "bandit" in base_runs
    cached = {p.name.split(".")[1] for p in (tmp_path / "cache").iterdir()}
    assert "bandit" in cached
