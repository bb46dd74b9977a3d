"""Operations benchmark: `aios metrics`, `health`, `standup`, `state check` on 10,000 tasks, 100,000 events.

Each is timed as a whole command (a subprocess), beside `python -c pass` measured in the same run.
The workspace is bench_state's, with every task's audit trail written (hash-chained) as aios does.

    python bench/bench_operations.py [--tasks 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_state import build  # noqa: E402

from orchestrator.state import audit  # noqa: E402
from orchestrator.state.store import Store  # noqa: E402
from orchestrator.state.workspace import Workspace  # noqa: E402

#: Each timed as a whole command. `health` reads every task file and verifies every trail; `standup`
#: reads the trails written in the last 24 h (all of them here: the workspace was just built).
COMMANDS = [
    ("metrics", ["metrics"]),
    ("health", ["health"]),
    ("standup", ["standup"]),
    ("state check", ["state", "check"]),
]


def median_ms(argv: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        t0 = time.perf_counter()
        root = build(Path(tmp), args.tasks, min(200, args.tasks))
        ws = Workspace(root)
        for task in Store(ws).all_tasks():
            audit.append(ws, task, start=0)
        built = time.perf_counter() - t0
        print(f"workspace: {args.tasks} tasks, {args.tasks * 10} events (built in {built:.1f} s)")
        aios = [sys.executable, "-m", "orchestrator", "--root", str(root)]
        bare = median_ms([sys.executable, "-c", "pass"], args.repeat)
        print(f"{'measure':<40}{'median':>10}   aim")
        print(f"{'python -c pass (baseline)':<40}{bare:>8.1f} ms")
        for name, argv in COMMANDS:
            took = median_ms([*aios, *argv], args.repeat)
            print(f"{f'aios {name} (whole command)':<40}{took:>8.1f} ms   < 1000 ms")


if __name__ == "__main__":
    main()
