"""Start-up benchmark: what a state command costs as a whole command, beside `python -c pass`.

A workspace with one task reviewed once (a scripted round, APPROVED with a finding, waiting at the
human checkpoint). Each command runs as its own process, as a person or script runs it, rounds
interleaved with `python -c pass` so both see the same load; each prints the median wall time and
CPU time (user + system: steadier on a busy machine) and their ratio to `python -c pass`.

Children run with bytecode caching on (into a temporary PYTHONPYCACHEPREFIX), as an installed
aios runs: an environment with PYTHONDONTWRITEBYTECODE would otherwise compile aios from source
on every run. The scan cache goes to a temporary AIOS_CACHE_DIR.

    python bench/bench_startup.py [--repeat 21] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The tests' helpers (a workspace reviewed once), as pytest finds them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

TID = "TASK_DEV_0001"
#: command -> the most it may cost, as a multiple of `python -c pass` (issue 19).
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "aios task status ID": (["task", "status", TID], 3.0),
    "aios task list": (["task", "list"], 3.0),
    "aios task status ID --json": (["task", "status", TID, "--json"], 3.0),
    "aios review status ID": (["review", "status", TID], 5.0),
    # No aim in issue 19 (which asks only that it read no checkpoint through langgraph): the
    # report's models import every evidence module.
    "aios review show ID": (["review", "show", TID], None),
    "aios --help": (["--help"], None),
}


def build(root: Path) -> None:
    """A workspace whose one task went through one scripted review round (no model, no sandbox):
    the tests' ``helpers.reviewed_once``."""
    from helpers import reviewed_once

    from orchestrator.state.setup import init

    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "bench@example.com"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    subprocess.run(["git", "-C", str(root), "config", "user.name", "bench"], check=True)
    ws, _ = init(root, owner="bench")
    reviewed_once(ws, actor="bench")


def timed(argv: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run of ``argv`` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall * 1000, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--smoke", action="store_true", help="Two rounds, a few seconds; nothing asserted.")
    args = parser.parse_args()
    repeat = 2 if args.smoke else args.repeat
    with tempfile.TemporaryDirectory(prefix="aios-bench-startup-") as tmp:
        root, cache = Path(tmp) / "ws", Path(tmp) / "cache"
        root.mkdir()
        env = {**os.environ, "AIOS_ACTOR": "bench", "AIOS_CACHE_DIR": str(cache)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        os.environ["AIOS_CACHE_DIR"] = str(cache)  # the build's own scans, too
        build(root)
        time.sleep(1.1)  # files younger than a second are never cached (the scan cache's racy rule)
        runs = {"python -c pass": [sys.executable, "-c", "pass"]}
        runs |= {
            name: [sys.executable, "-m", "orchestrator", *words] for name, (words, _) in COMMANDS.items()
        }
        for argv in runs.values():  # warm: bytecode written, cache rows kept
            timed(argv, cwd=root, env=env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(repeat):
            for name, argv in runs.items():
                samples[name].append(timed(argv, cwd=root, env=env))
        report(samples, repeat)


def report(samples: dict[str, list[tuple[float, float]]], repeat: int) -> None:
    wall = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    cpu = {name: statistics.median(c for _, c in s) for name, s in samples.items()}
    base_wall, base_cpu = wall["python -c pass"], cpu["python -c pass"]
    print(f"median of {repeat} runs each, interleaved; ratio = command / python -c pass")
    print(f"{'command':<30}{'wall':>10}{'ratio':>8}{'cpu':>10}{'ratio':>8}   aim")
    for name in samples:
        aim = COMMANDS[name][1] if name in COMMANDS else None
        print(
            f"{name:<30}{wall[name]:>8.1f}ms{wall[name] / base_wall:>7.1f}x"
            f"{cpu[name]:>8.1f}ms{cpu[name] / base_cpu:>7.1f}x   {f'<= {aim:g}x' if aim else ''}"
        )


if __name__ == "__main__":
    main()
