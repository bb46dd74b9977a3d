"""What the sandbox and the task worktrees cost: median wall time per call.

Run: ``.venv/bin/python bench/bench_sandbox.py [--runs N] [--smoke]``. Prints figures, asserts nothing.
``--smoke``: a 20-file repository, two runs each.

``bare`` is the command started with ``subprocess.run``; ``plain`` is `run_command` without the
sandbox (limits and the disk watch only); ``old recipe`` is the sandbox before the allow-list
(``--ro-bind / /`` with a few folders hidden, uid 1000 mapped to the invoking user, which as root
is host root), kept here as the baseline; ``sandboxed`` is `run_command` as it is now.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import Limits, _limited, bwrap_available, run_command

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


def interleaved_ms(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time of each function, run in turns so a busy machine slows them all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def command_cost(argv: list[str], wt: Path, sandbox: bool) -> Callable[[], object]:
    def once() -> None:
        result = run_command(argv, worktree=wt, limits=LIMITS, sandbox=sandbox)
        assert result.ok, result.stderr

    return once


def old_recipe(argv: list[str], wt: Path) -> list[str]:
    """The sandbox's command line before the allow-list (commit 5ac366a), for comparison."""
    common = str((wt / (wt / ".git").read_text().removeprefix("gitdir:").strip() / "..").resolve().parent)
    venv = sys.prefix
    args = ["bwrap", "--ro-bind", "/", "/", "--tmpfs", "/tmp"]
    for hidden in ("/root", "/home", "/run", str(Path(common).parent)):
        args += ["--tmpfs", hidden]
    for visible in sorted({sys.base_prefix, venv, common}, key=lambda p: p.count("/")):
        args += ["--ro-bind-try", visible, visible]
    args += ["--bind", str(wt), str(wt), "--ro-bind-try", str(wt / ".git"), str(wt / ".git")]
    for hidden in ("/root", "/home", "/run", str(Path(common).parent)):
        args += ["--remount-ro", hidden]
    args += ["--dev", "/dev", "--proc", "/proc", "--unshare-all", "--uid", "1000", "--gid", "1000",
             "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
             "--setenv", "PATH", f"{venv}/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
             "--chdir", str(wt), "--", *argv]  # fmt: skip
    return args


def process_cost(cmd: list[str], wt: Path) -> Callable[[], object]:
    return lambda: subprocess.run(cmd, cwd=wt, check=True, stdin=subprocess.DEVNULL, capture_output=True)


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
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    runs, files = (2, 20) if args.smoke else (args.runs, 200)
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo", files)
        wt = git.ensure_worktree(repo, "BENCH", "main")
        if not bwrap_available():
            print("bubblewrap unavailable: sandboxed figures skipped")
        os.chmod(tmp, 0o755)  # noqa: S103 -- as root, the sandboxed user must reach the worktree
        for argv in (["true"], [sys.executable, "-c", "pass"]):
            name = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv))
            fns = {"bare": process_cost(argv, wt), "plain": command_cost(argv, wt, False)}
            if bwrap_available():
                fns["old recipe"] = process_cost(old_recipe(_limited(tuple(argv), LIMITS, True), wt), wt)
                fns["sandboxed"] = command_cost(argv, wt, True)
            figures = interleaved_ms(fns, runs)
            for label, ms in figures.items():
                over = f"   (+{ms - figures['bare']:.1f} ms over bare)" if label != "bare" else ""
                print(f"{name:<18} {label:<10} {ms:7.1f} ms{over}")
        create = median_ms(lambda i: git.ensure_worktree(repo, f"NEW{i + 1}", "main"), runs)
        again = median_ms(lambda _: git.ensure_worktree(repo, "BENCH", "main"), runs)
        print(f"ensure_worktree    create     {create:7.1f} ms   ({files}-file repo)")
        print(f"ensure_worktree    existing   {again:7.1f} ms")


if __name__ == "__main__":
    main()
