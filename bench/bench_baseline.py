"""Static review wall time on a ~2,000-line change: no baseline, baseline with a cold cache, warm cache.

The target branch has a failing test and the change a ruff finding, so the baseline has something
to compare: with a cold cache the merge base's tests and ruff run once more; warm, they are read
from the cache (one file per base commit and check).

Run: ``.venv/bin/python bench/bench_baseline.py [--runs N] [--smoke]``. Unsandboxed; prints figures,
asserts nothing. ``--smoke``: a two-module change, one run each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_evidence import commit, git, module, test_module

from orchestrator.review.diff import git_diff
from orchestrator.review.evidence import Runner, support_paths
from orchestrator.review.round import RoundOutcome, review_static
from orchestrator.review.settings import ReviewSettings
from orchestrator.sandbox.bwrap import Limits, run_command
from orchestrator.sandbox.environment import STAND_IN_VARIABLES

MODULES = 16  # ~85 lines per module and ~45 per test file: ~2,100 added lines


class PlainRunners:
    """Unsandboxed runners that can move to another folder (the baseline runs in a copy of the base)."""

    def __init__(self, worktree: Path) -> None:
        self.worktree = worktree

    def __call__(self, timeout_s: float) -> Runner:
        limits = Limits(timeout_s=timeout_s)
        return lambda argv: run_command(
            argv,
            worktree=self.worktree,
            limits=limits,
            sandbox=False,
            read_only_paths=support_paths(),
            env=STAND_IN_VARIABLES,  # as the review runs them: aios's pytest without aios's plugins
        )

    def at(self, worktree: Path) -> PlainRunners:
        return PlainRunners(worktree)


def make_repo(root: Path, modules: int = MODULES) -> tuple[Path, str]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = {f"pkg/old{i}.py": module(100 + i, 7) for i in range(40)}
    base |= {"pkg/__init__.py": "", "tests/test_old.py": "def test_old_bug():\n    assert 1 == 2\n"}
    base_id = commit(repo, base, "base")
    git(repo, "checkout", "-q", "-b", "task/BENCH")
    change = {f"pkg/new{n}.py": module(n, 10) for n in range(modules)}
    change |= {f"tests/test_new{n}.py": test_module(n, 10) for n in range(modules)}
    change["pkg/new0.py"] += "\n\ndef load(text):\n    return eval(text)\n"
    commit(repo, change, "add modules")
    return repo, base_id


def timed(repo: Path, runs: int, review: Callable[[], RoundOutcome]) -> tuple[float, RoundOutcome]:
    """Median wall time of ``review()``; each run on a fresh head commit (nothing memoised in process)."""
    times, report = [], None
    for i in range(runs):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"run {i}")
        start = time.perf_counter()
        report = review()
        times.append(time.perf_counter() - start)
    assert report is not None
    return statistics.median(times), report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    with tempfile.TemporaryDirectory() as tmp:
        repo, base = make_repo(Path(tmp), 2 if args.smoke else MODULES)
        cache = Path(tmp) / "baseline-cache"
        diff = git_diff(repo, base, "HEAD")
        print(f"change: {diff.added} added lines in {len(diff.files)} files")
        off = ReviewSettings.model_validate({"evidence": {"baseline": {"enabled": False}}})

        def review(settings: ReviewSettings | None = None) -> RoundOutcome:
            return review_static(
                repo,
                base=base,
                runners=PlainRunners(repo),
                settings=settings or ReviewSettings(),
                baseline_dir=cache,
            )

        def cold() -> RoundOutcome:
            shutil.rmtree(cache, ignore_errors=True)
            return review()

        rows = [
            ("no baseline", timed(repo, args.runs, lambda: review(off))),
            ("baseline, cold cache", timed(repo, args.runs, cold)),
            ("baseline, warm cache", timed(repo, args.runs, review)),
        ]
        for label, (seconds, report) in rows:
            marked = sum(1 for f in report.findings if (f.rule or "").endswith(":pre-existing"))
            print(f"  {label:<24}{seconds:7.2f} s   verdict {report.verdict.value}, {marked} pre-existing")


if __name__ == "__main__":
    main()
