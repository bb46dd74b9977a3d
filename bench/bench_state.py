"""State-store benchmark: 10,000 tasks with 100,000 events in one workspace.

Prints the median of one start/finish transition in-process and of the whole `aios task status`
command, beside `python -c pass` measured in the same run.

    python bench/bench_state.py [--tasks 10000] [--live 200] [--repeat 40] [--smoke]

``--smoke``: 30 tasks, 5 live, two runs each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.governance import actions
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, TaskState, now
from orchestrator.state.setup import init
from orchestrator.state.store import Store

# Ten events per task: done tasks went round the review loop; live ones were blocked now and then.
DONE_PATH = [
    Status.INBOX,
    Status.READY,
    Status.RUNNING,
    Status.CODE_REVIEW,
    Status.RUNNING,
    Status.CODE_REVIEW,
    Status.REVIEWING,
    Status.RUNNING,
    Status.REVIEWING,
    Status.DONE,
]
LIVE_PATH = [Status.INBOX, Status.READY, *[Status.BLOCKED, Status.READY] * 4]


def build(root: Path, n_tasks: int, n_live: int) -> Path:
    """A workspace with ``n_tasks`` task files of 10 events each; the last ``n_live`` are ready."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    ws, _ = init(root, owner="bench")
    seq, stamp = 0, now()
    for i in range(1, n_tasks + 1):
        live = i > n_tasks - n_live
        path = LIVE_PATH if live else DONE_PATH
        events = []
        for before, after in zip([None, *path], path, strict=False):
            seq += 1
            events.append(Event(seq=seq, at=stamp, actor="bench", from_=before, to=after, reason="bench"))
        task = TaskState(
            id=f"TASK_DEV_{i:05d}",
            title=f"Benchmark task {i}",
            queue="dev",
            card=f"tasks/inbox/TASK_DEV_{i:05d}.md",
            status=path[-1],
            created_at=stamp,
            updated_at=stamp,
            events=events,
        )
        ws.task_file(task.id).write_text(task.to_yaml())
    project = ws.project_file.read_text().replace("max_concurrent: 3", "max_concurrent: 1000")
    ws.project_file.write_text(project)
    Store(ws).rebuild_index()
    return root


def median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    if args.smoke:
        args.tasks, args.live, args.repeat = 30, 5, 2
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        t0 = time.perf_counter()
        root = build(Path(tmp), args.tasks, args.live)
        from orchestrator.state.workspace import Workspace

        ws = Workspace(root)
        events = sum(1 for _ in ws.tasks_dir.iterdir()) * 10
        print(
            f"workspace: {args.tasks} tasks, {events} events, {args.live} live "
            f"(built in {time.perf_counter() - t0:.1f} s)"
        )
        live = [f"TASK_DEV_{i:05d}" for i in range(args.tasks - args.live + 1, args.tasks + 1)]
        it = iter(live * 4)

        def start_finish() -> None:
            tid = next(it)
            actions.transition(ws, tid, "start", actor="bench")
            actions.transition(ws, tid, "finish", actor="bench")
            actions.transition(ws, tid, "reject", actor="bench")  # back to running for the next lap
            actions.transition(ws, tid, "finish", actor="bench")

        transition = median_ms(start_finish, args.repeat) / 4
        status_cmd = [sys.executable, "-m", "orchestrator", "--root", str(root), "task", "status", live[0]]
        status = median_ms(lambda: subprocess.run(status_cmd, capture_output=True, check=True), args.repeat)
        bare = median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.repeat)
        print(f"{'measure':<40}{'median':>10}   aim")
        print(f"{'python -c pass (baseline)':<40}{bare:>8.1f} ms")
        print(f"{'one transition, in-process':<40}{transition:>8.1f} ms   <= 20 ms")
        print(f"{'aios task status (whole command)':<40}{status:>8.1f} ms   <= 250 ms")
        print(f"{'  of which above python -c pass':<40}{status - bare:>8.1f} ms")


if __name__ == "__main__":
    main()
