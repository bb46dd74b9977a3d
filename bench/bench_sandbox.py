"""What the sandbox and the task worktrees cost: median wall time per call.

Run: ``.venv/bin/python bench/bench_sandbox.py [--runs N]``. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import Limits, bwrap_available, run_command

LIMITS = Limits(timeout_s=30)


def median_ms(fn: Callable[[int], object], runs: int) -> float:
    """Median wall time of ``fn(i)`` in milliseconds, after one warm-up call."""
    fn(-1)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def command_cost(argv: list[str], wt: Path, sandbox: bool, runs: int) -> float:
    def once(_: int) -> None:
        result = run_command(argv, worktree=wt, limits=LIMITS, sandbox=sandbox)
        assert result.ok, result.stderr

    return median_ms(once, runs)


def make_repo(root: Path, files: int) -> Path:
    root.mkdir()
    for i in range(files):
        sub = root / f"pkg{i % 10}"
        sub.mkdir(exist_ok=True)
        (sub / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n" * 20)
    git._git(root, "init", "-q", "-b", "main")
    git.commit_all(root, "initial")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo", 200)
        wt = git.ensure_worktree(repo, "BENCH", "main")
        modes = [False, True] if bwrap_available() else [False]
        if not bwrap_available():
            print("bubblewrap unavailable: sandboxed figures skipped")
        for argv in (["true"], ["python", "-c", "pass"]):
            for sandbox in modes:
                label = "sandboxed" if sandbox else "plain"
                print(f"{' '.join(argv):<18} {label:<10} {command_cost(argv, wt, sandbox, runs):7.1f} ms")
        create = median_ms(lambda i: git.ensure_worktree(repo, f"NEW{i + 1}", "main"), runs)
        again = median_ms(lambda _: git.ensure_worktree(repo, "BENCH", "main"), runs)
        print(f"ensure_worktree    create     {create:7.1f} ms   (200-file repo)")
        print(f"ensure_worktree    existing   {again:7.1f} ms")


if __name__ == "__main__":
    main()
