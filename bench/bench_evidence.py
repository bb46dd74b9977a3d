"""Static review evidence on a generated ~500-line change: four dimensions concurrently vs one by one.

Also a size proxy for round 2: the diff-and-findings part of the reviewer's prompt with incremental
re-review (delta since the last reviewed commit + open findings) against a full re-review.

Run: ``.venv/bin/python bench/bench_evidence.py [--runs N] [--no-sandbox] [--smoke]``. Prints
figures, asserts nothing. ``--smoke``: a small repository, one run each, unsandboxed.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.review.diff import git_diff, render_numbered
from orchestrator.review.evidence import RunnerFactory, support_paths
from orchestrator.review.round import RoundOutcome, review_static
from orchestrator.review.tracking import rereview_view
from orchestrator.sandbox.bwrap import Limits, bwrap_available, run_command
from orchestrator.sandbox.environment import STAND_IN_VARIABLES
from orchestrator.state.taskcard import Criterion

CRITERIA = [
    Criterion(id="AC1", text="the new modules import", check="python -c 'import pkg.new0, pkg.new1'"),
    Criterion(
        id="AC2", text="totals are right", check="python -c 'from pkg.new0 import total0; total0([1])'"
    ),
]


def git(repo: Path, *args: str) -> str:
    argv = ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run([*argv, "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def module(n: int, functions: int) -> str:
    """A plausible module: small functions with a loop and a branch each (~8 lines per function)."""
    parts = [f'"""Generated module {n}."""\n']
    for i in range(functions):
        parts.append(
            f"\n\ndef total{n}_{i}(values, limit={i + 3}):\n"
            f"    result = 0\n"
            f"    for value in values:\n"
            f"        if value > limit:\n"
            f"            result += value * {n + 1}\n"
            f"        else:\n"
            f"            result -= {i}\n"
            f"    return result\n"
        )
    parts.append(f"\n\ndef total{n}(values):\n    return sum(values) + {n}\n")
    return "".join(parts)


def test_module(n: int, functions: int) -> str:
    lines = [f"from pkg.new{n} import total{n}"] + [
        f"from pkg.new{n} import total{n}_{i}" for i in range(functions)
    ]
    lines += ["", "", "def test_totals():", f"    assert total{n}([1]) == {n + 1}"]
    lines += [f"    assert total{n}_{i}([100, 0]) == {100 * (n + 1) - i}" for i in range(functions)]
    return "\n".join(lines) + "\n"


def make_repo(root: Path, old: int = 40, new: int = 4) -> tuple[Path, str]:
    """``old`` modules on main; the task branch adds ``new`` modules and their tests (4: ~500 lines)."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = {f"pkg/old{i}.py": module(100 + i, 7) for i in range(old)}
    base |= {"pkg/__init__.py": "", "tests/test_smoke.py": "def test_smoke():\n    assert True\n"}
    base_id = commit(repo, base, "base")
    git(repo, "checkout", "-q", "-b", "task/BENCH")
    change = {f"pkg/new{n}.py": module(n, 10) for n in range(new)}
    change |= {f"tests/test_new{n}.py": test_module(n, 10) for n in range(new)}
    commit(repo, change, "add four modules")
    return repo, base_id


def runners(worktree: Path, *, sandbox: bool) -> RunnerFactory:
    """`run_command` for ``worktree`` per time limit; ``sandbox=False`` is the plain-process baseline."""

    def factory(timeout_s: float):
        limits = Limits(timeout_s=timeout_s)
        return functools.partial(
            run_command,
            worktree=worktree,
            limits=limits,
            sandbox=sandbox,
            read_only_paths=support_paths(),
            env=STAND_IN_VARIABLES,  # as the review runs them: aios's pytest without aios's plugins
        )

    return factory


def timed(fn: Callable[[], RoundOutcome], runs: int, *, warm: bool = True) -> tuple[float, RoundOutcome]:
    """Median wall time in seconds of ``fn()`` after a warm-up run (if ``warm``), and the last report."""
    report = fn() if warm else None
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        report = fn()
        times.append(time.perf_counter() - start)
    assert report is not None
    return statistics.median(times), report


def compare(
    repo: Path, base: str, runners: RunnerFactory, label: str, runs: int, *, warm: bool = True
) -> None:
    def review(concurrent: bool) -> RoundOutcome:
        return review_static(repo, base=base, runners=runners, criteria=CRITERIA, concurrent=concurrent)

    par, report = timed(lambda: review(True), runs, warm=warm)
    seq, _ = timed(lambda: review(False), runs, warm=warm)
    print(f"\n[{label}] verdict {report.verdict.value}, {len(report.findings)} findings")
    print(f"  {'concurrent (4 threads)':<26}{par:7.2f} s")
    print(f"  {'sequential':<26}{seq:7.2f} s   (concurrent / sequential = {par / seq:.2f})")
    for r in report.evidence:
        print(f"    {r.dimension.value} {r.name:<22}{r.status.value:<8}{r.duration_s:6.2f} s")


def round_two_proxy(repo: Path, base: str, runners: RunnerFactory) -> None:
    first = review_static(repo, base=base, runners=runners, criteria=CRITERIA)
    reviewed = first.head
    path = repo / "pkg/new2.py"
    path.write_text(path.read_text().replace("result -= 2\n", "result -= 2 * limit\n"))
    head = commit(repo, {}, "address findings")
    full = render_numbered(git_diff(repo, base, head)) + "".join(f.message for f in first.findings)
    view = rereview_view(first.findings, git_diff(repo, reviewed, head), since=reviewed, head=head)
    incremental = view.render()
    print("\n[round 2] diff + findings part of the prompt, ~4 characters per token")
    print(f"  {'full re-review':<26}{len(full) // 4:7d} tokens")
    print(
        f"  {'incremental':<26}{len(incremental) // 4:7d} tokens   (ratio {len(incremental) / len(full):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-sandbox", action="store_true", help="only the unsandboxed runner")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.no_sandbox = 1, True
    with tempfile.TemporaryDirectory() as tmp:
        repo, base = make_repo(Path(tmp), *((2, 3) if args.smoke else (40, 4)))  # round 2 edits new2
        diff = git_diff(repo, base, "HEAD")
        files = len(list(repo.rglob("*.py")))
        print(
            f"change: {diff.added} added lines in {len(diff.files)} files; repository: {files} Python files"
        )
        compare(repo, base, runners(repo, sandbox=False), "no sandbox", args.runs, warm=not args.smoke)
        if not args.no_sandbox and bwrap_available():
            compare(repo, base, runners(repo, sandbox=True), "bubblewrap sandbox", args.runs)
        elif not args.no_sandbox:
            print("\nbubblewrap unavailable: sandboxed figures skipped")
        round_two_proxy(repo, base, runners(repo, sandbox=False))


if __name__ == "__main__":
    main()
