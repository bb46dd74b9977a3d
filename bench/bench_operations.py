"""Operations benchmark: full scans and routines on 10,000 tasks with 100,000 events (or 50,000).

Each aios command is timed as a whole command (a subprocess), beside `python -c pass` and the same
scan on SQLite (a `tasks` table holding each task's fields and events as JSON, a `trails` table
each trail's text), all measured in the same run. Each scan is timed cold (no scan cache: every
task file parsed, as before the cache existed, and the cache written) and warm (nothing changed
since the last command, the common case).

    python bench/bench_operations.py [--tasks 10000] [--repeat 5] [--cold 1] [--smoke]

``--smoke``: 30 tasks, each command run once (its cold figure shown as warm too).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_state import build  # noqa: E402

from orchestrator.state import audit, scan  # noqa: E402
from orchestrator.state.workspace import Workspace  # noqa: E402

#: The same scans on SQLite, as whole commands: list every task; read every task's events and trail.
SQLITE_LIST = (
    "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
    "print('\\n'.join('  '.join(map(str, r)) for r in "
    "db.execute('SELECT id, status, queue, priority, title FROM tasks ORDER BY id')))"
)
SQLITE_CHECK = (
    "import json, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
    "seqs = [e['seq'] for (ev,) in db.execute('SELECT events FROM tasks') for e in json.loads(ev)]; "
    "lines = sum(t.count('\\n') for (t,) in db.execute('SELECT text FROM trails')); "
    "print(len(seqs) == len(set(seqs)), lines)"
)


def median_ms(argv: list[str], repeat: int, before: object = None) -> float:
    samples = []
    for _ in range(repeat):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def mirror(ws: Workspace, db_path: Path) -> None:
    """The workspace's tasks and trails in one SQLite file: the floor a full scan is held to."""
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, status, queue, priority, title, events)")
    db.execute("CREATE TABLE trails (task TEXT PRIMARY KEY, text)")
    for task in scan.tasks(ws):
        events = json.dumps([e.model_dump(mode="json", by_alias=True) for e in task.events])
        db.execute(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?)",
            (task.id, task.status.value, task.queue, task.priority, task.title, events),
        )
        db.execute("INSERT INTO trails VALUES (?, ?)", (task.id, ws.audit_file(task.id).read_text()))
    db.commit()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each warm measure")
    parser.add_argument("--cold", type=int, default=1, help="runs of each cold measure (slow)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    if args.smoke:
        args.tasks, args.repeat, args.cold = 30, 1, 1
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        os.environ["AIOS_CACHE_DIR"] = str(Path(tmp) / "cache")  # not the user's cache
        t0 = time.perf_counter()
        root = build(Path(tmp) / "ws", args.tasks, min(200, args.tasks))
        ws = Workspace(root)
        for task in scan.tasks(ws):
            audit.append(ws, task, start=0)
        db = Path(tmp) / "mirror.sqlite"
        mirror(ws, db)
        built = time.perf_counter() - t0
        print(f"workspace: {args.tasks} tasks, {args.tasks * 10} events (built in {built:.1f} s)")
        time.sleep(1.1)  # older than the scan cache's racy window, as files are between commands

        def drop_cache() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{ws.scan_cache}{suffix}").unlink(missing_ok=True)

        aios = [sys.executable, "-m", "orchestrator", "--root", str(root)]
        bare = median_ms([sys.executable, "-c", "pass"], args.repeat)
        floors = {
            "list": median_ms([sys.executable, "-c", SQLITE_LIST, str(db)], args.repeat),
            "check": median_ms([sys.executable, "-c", SQLITE_CHECK, str(db)], args.repeat),
        }
        print(f"{'measure':<44}{'cold':>10}{'warm':>10}{'warm/SQLite':>13}   aim (warm)")
        print(f"{'python -c pass (baseline)':<44}{'':>10}{bare:>8.1f}ms")
        print(f"{'SQLite: list every task':<44}{'':>10}{floors['list']:>8.1f}ms")
        print(f"{'SQLite: every event and trail line':<44}{'':>10}{floors['check']:>8.1f}ms")
        aim = "<= 2000 ms, <= 10x SQLite" if args.tasks >= 50_000 else "< 1000 ms"
        # Standup reads each trail changed since yesterday: here every trail, as the workspace is new.
        for label, argv, floor in (
            ("aios task list --all", ["task", "list", "--all"], "list"),
            ("aios state check", ["state", "check"], "check"),
            ("aios metrics", ["metrics"], "check"),
            ("aios state rebuild", ["state", "rebuild"], "list"),
            ("aios health", ["health"], "check"),
            ("aios standup (every trail changed today)", ["standup"], "check"),
        ):
            cold = median_ms([*aios, *argv], args.cold, before=drop_cache)
            if args.smoke:  # each command once: the code runs, the figures mean little
                warm = cold
            else:
                median_ms([*aios, *argv], 1)  # fills the cache
                warm = median_ms([*aios, *argv], args.repeat)
            ratio = warm / floors[floor]
            held = aim if argv in (["task", "list", "--all"], ["state", "check"]) else "-"  # issue 19's
            print(f"{label:<44}{cold:>8.1f}ms{warm:>8.1f}ms{ratio:>12.1f}x   {held}")


if __name__ == "__main__":
    main()
