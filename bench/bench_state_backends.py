"""State backends side by side: transitions per second with 1, 4 and 8 concurrent writer processes,
on the YAML files and on PostgreSQL, in one run.

Each writer process moves its own task running -> reviewing -> running ... (``finish``/``reject``)
through ``governance.actions.transition``, as the CLI does; every writer contends for the same
workspace lock (the state file lock, or the workspace's row in PostgreSQL). Figures are ratios to
the one-writer YAML run measured here. PostgreSQL is ``AIOS_TEST_POSTGRES_URL`` when set, else a
throwaway cluster ``.ci/postgres`` starts (and stops) on a free port.

    python bench/bench_state_backends.py [--moves 200] [--writers 1,4,8] [--smoke]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.governance import actions
from orchestrator.state.setup import init
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent


def build(root: Path, writers: int) -> tuple[Workspace, list[str]]:
    """A workspace (state in whatever ``AIOS_STATE_URL`` says) with one running task per writer."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    ws, _ = init(root, owner="bench")
    ws.project_file.write_text(
        ws.project_file.read_text().replace("max_concurrent: 3", "max_concurrent: 100")
    )
    ws = Workspace(root)
    ids = []
    for _ in range(writers):
        card = TaskCard(
            id="TASK_DEV_0000",
            title="bench",
            queue="dev",
            acceptance_criteria=[Criterion(id="AC1", text="x")],
        )
        tid = actions.create_task(ws, card, actor="bench").id
        actions.transition(ws, tid, "approve", actor="bench")
        actions.transition(ws, tid, "start", actor="bench")
        ids.append(tid)
    return ws, ids


def _writer(root: str, tid: str, moves: int, go: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    ws = Workspace(Path(root))
    go.wait()
    for i in range(moves):
        actions.transition(ws, tid, "finish" if i % 2 == 0 else "reject", actor="bench")


def rate(root: Path, ids: list[str], moves: int) -> float:
    """Transitions per second of ``len(ids)`` writer processes, ``moves`` each, started together."""
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(root), tid, moves, go)) for tid in ids]
    for p in procs:
        p.start()
    time.sleep(0.2)  # every writer imported and waiting
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {p.exitcode})")
    return len(ids) * moves / (time.perf_counter() - start)


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (the system picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres() -> Iterator[str]:
    """A server URL: the test cluster's, or a throwaway one started here."""
    if url := os.environ.get("AIOS_TEST_POSTGRES_URL"):
        yield url
        return
    run = subprocess.run(
        [str(REPO / ".ci/postgres"), "start", str(free_port())], capture_output=True, text=True, check=True
    )
    folder = run.stderr.strip().splitlines()[-1]
    try:
        yield run.stdout.strip()
    finally:
        subprocess.run([str(REPO / ".ci/postgres"), "stop", folder], check=False)


@contextmanager
def database(server: str) -> Iterator[str]:
    import psycopg

    name = f"aios_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(backend: str, url: str | None, writers: int, moves: int) -> float:
    os.environ.pop("AIOS_STATE_URL", None)
    if url:
        os.environ["AIOS_STATE_URL"] = url
    with tempfile.TemporaryDirectory(prefix=f"aios-bench-{backend}-") as tmp:
        ws, ids = build(Path(tmp) / "repo", writers)
        return rate(ws.root, ids, moves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200, help="transitions per writer")
    parser.add_argument("--writers", default="1,4,8")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    args = parser.parse_args()
    moves = 6 if args.smoke else args.moves
    counts = [int(n) for n in args.writers.split(",")]
    results: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="aios-bench-cache-") as cache, postgres() as server:
        os.environ.setdefault("AIOS_CACHE_DIR", cache)
        for writers in counts:
            results["yaml", writers] = measure("yaml", None, writers, moves)
            with database(server) as url:
                results["postgresql", writers] = measure("postgresql", url, writers, moves)
    baseline = results["yaml", counts[0]]
    print(f"{moves} transitions per writer; baseline: YAML with {counts[0]} writer = {baseline:.0f}/s")
    print(f"{'writers':>8}{'YAML /s':>12}{'× base':>8}{'PostgreSQL /s':>16}{'× base':>8}{'PG/YAML':>9}")
    for writers in counts:
        yaml_rate, pg_rate = results["yaml", writers], results["postgresql", writers]
        print(
            f"{writers:>8}{yaml_rate:>12.0f}{yaml_rate / baseline:>8.2f}"
            f"{pg_rate:>16.0f}{pg_rate / baseline:>8.2f}{pg_rate / yaml_rate:>9.2f}"
        )


if __name__ == "__main__":
    main()
