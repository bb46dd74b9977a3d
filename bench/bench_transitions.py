"""Transition benchmark: one transition's cost at 10 and at 1,000 live tasks, beside SQLite.

A workspace of 10,000 task files (10 events each), of which 10 or 1,000 are live; each row prints
the median of one lifecycle transition in-process (``governance.actions.transition``: the state
lock, the task file, the index, the audit trail) beside the same transition on a SQLite database
holding the same tasks and events (WAL, ``synchronous=FULL``: one fsync per commit), measured in
the same run. A transition should cost the same whatever the number of live tasks.

    python bench/bench_transitions.py [--tasks 10000] [--live 10 1000] [--repeat 200] [--smoke]
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.governance import actions
from orchestrator.state import queues
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, TaskState, now
from orchestrator.state.setup import init
from orchestrator.state.store import Store
from orchestrator.state.workspace import Workspace

DONE_PATH = [Status.INBOX, Status.READY, Status.RUNNING, Status.CODE_REVIEW, Status.RUNNING]
DONE_PATH += [Status.CODE_REVIEW, Status.REVIEWING, Status.RUNNING, Status.REVIEWING, Status.DONE]
LIVE_PATH = [Status.INBOX, Status.READY, *[Status.BLOCKED, Status.READY] * 4]
#: One lap of moves that ends where it began (running), so laps repeat on the same task.
LAP = ["finish", "reject", "block", "unblock"]


def _task(i: int, path: list[Status], seq: int, stamp: str) -> TaskState:
    events = [
        Event(seq=seq + n, at=stamp, actor="bench", from_=before, to=after, reason="bench")
        for n, (before, after) in enumerate(zip([None, *path], path, strict=False), start=1)
    ]
    tid = f"TASK_DEV_{i:05d}"
    return TaskState(
        id=tid,
        title=f"Benchmark task {i}",
        queue="dev",
        card=f"tasks/inbox/{tid}.md",
        status=path[-1],
        created_at=stamp,
        updated_at=stamp,
        events=events,
    )


def build(root: Path, n_tasks: int, n_live: int) -> tuple[Workspace, list[TaskState]]:
    """A workspace of ``n_tasks`` task files, the last ``n_live`` live (ready), indexed."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    ws, _ = init(root, owner="alice")
    stamp, made = now(), []
    for i in range(1, n_tasks + 1):
        task = _task(i, LIVE_PATH if i > n_tasks - n_live else DONE_PATH, (i - 1) * 10, stamp)
        ws.task_file(task.id).write_text(task.to_yaml())
        made.append(task)
    text = ws.project_file.read_text().replace("max_concurrent: 3", f"max_concurrent: {n_tasks}")
    ws.project_file.write_text(text)
    Store(ws).rebuild_index()
    return Workspace(root), made


def sqlite_baseline(path: Path, made: list[TaskState]) -> sqlite3.Connection:
    """The same tasks and events in SQLite, with indexes a transition's reads use."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(
        """
        CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT, queue TEXT, priority INT, title TEXT);
        CREATE INDEX tasks_live ON tasks (queue, status);
        CREATE TABLE events (seq INT PRIMARY KEY, task TEXT, at TEXT, actor TEXT, src TEXT, dst TEXT,
                             reason TEXT);
        CREATE INDEX events_task ON events (task, seq);
        CREATE TABLE meta (name TEXT PRIMARY KEY, value INT);
        """
    )
    with db:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, ?)",
            [(t.id, t.status.value, t.queue, t.priority, t.title) for t in made],
        )
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (e.seq, t.id, e.at, e.actor, e.from_.value if e.from_ else None, e.to.value, e.reason)
                for t in made
                for e in t.events
            ],
        )
        db.execute("INSERT INTO meta VALUES ('seq', ?)", (len(made) * 10,))
    return db


def sqlite_transition(db: sqlite3.Connection, tid: str, to: str) -> None:
    """Read the task and its queue's running count, move it, append its event: one commit."""
    db.execute("BEGIN IMMEDIATE")
    (src, queue) = db.execute("SELECT status, queue FROM tasks WHERE id = ?", (tid,)).fetchone()
    db.execute("SELECT COUNT(*) FROM tasks WHERE queue = ? AND status = 'running'", (queue,)).fetchone()
    (seq,) = db.execute("UPDATE meta SET value = value + 1 WHERE name = 'seq' RETURNING value").fetchone()
    db.execute("UPDATE tasks SET status = ? WHERE id = ?", (to, tid))
    db.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", (seq, tid, now(), "alice", src, to, "bench")
    )
    db.execute("COMMIT")


def medians_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The median wall time of ``fn`` and its median CPU time in this process (the part that is
    not waiting for the disk: fsync times swing with whatever else the machine writes)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def fresh_status(ws: Workspace) -> None:
    """``queue status`` as a new process runs it: nothing remembered of the index text."""
    known = getattr(sys.modules.get("orchestrator.state._index"), "_known", None)
    if known is not None:
        known.clear()
    queues.status(ws)


def measure(n_tasks: int, n_live: int, repeat: int) -> list[float]:
    """Medians (ms) of one transition here and on SQLite (wall, CPU each), and of ``queue status``."""
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        ws, made = build(Path(tmp) / "ws", n_tasks, n_live)
        db = sqlite_baseline(Path(tmp) / "baseline.db", made)
        # Ten tasks take turns, so each task's own file grows alike at 10 and at 1,000 live.
        tids = [t.id for t in made[-min(10, n_live) :]]
        del made  # 100,000 events held for nothing would make every garbage collection slow
        gc.collect()
        for tid in tids:
            actions.transition(ws, tid, "start", actor="alice")  # running: each lap starts here
        moves = ((tid, action) for _ in range(repeat + 2) for action in LAP for tid in tids)

        def move() -> None:
            tid, action = next(moves)
            reason = "bench" if action == "block" else None
            actions.transition(ws, tid, action, actor="alice", reason=reason)

        for _ in LAP:  # warm up: imports, caches
            move()
        ours = medians_ms(move, repeat)
        status = medians_ms(lambda: fresh_status(ws), max(5, repeat // 10))[0]
        states = ((tid, to) for _ in range(repeat) for to in ("code_review", "running") for tid in tids)
        theirs = medians_ms(lambda: sqlite_transition(db, *next(states)), repeat)
        db.close()
        return [*ours, *theirs, status]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--live", type=int, nargs="+", default=[10, 1_000])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.tasks, args.live, args.repeat = 60, [2, 20], 8
    print(f"{args.tasks} tasks of 10 events; median of {args.repeat} transitions each")
    print("wall: median time of one transition; cpu: its CPU time in the process (no disk waits);")
    print("queue status: in-process, as a fresh process reads the index (nothing remembered)")
    print(
        f"{'live tasks':>10}{'aios wall':>12}{'SQLite wall':>13}{'ratio':>7}"
        f"{'aios cpu':>11}{'SQLite cpu':>12}{'ratio':>7}{'queue status':>14}"
    )
    for n_live in args.live:
        wall, cpu, sql_wall, sql_cpu, status = measure(args.tasks, n_live, args.repeat)
        print(
            f"{n_live:>10}{wall:>9.2f} ms{sql_wall:>10.2f} ms{wall / sql_wall:>6.1f}x"
            f"{cpu:>8.2f} ms{sql_cpu:>9.2f} ms{cpu / sql_cpu:>6.1f}x{status:>11.2f} ms"
        )
    print("aim: one transition <= 5 ms at 1,000 live, the same at 10 and at 1,000 live")


if __name__ == "__main__":
    main()
