"""MCP benchmark: the median latency of one ``task_status`` call over stdio and over HTTP, beside
the same read through the CLI (``aios task status --json``, a new process each time, as a script
calls it). Each server is started once, as a client keeps it; the start-up is printed apart.

    python bench/bench_mcp.py [--repeat 50] [--smoke]

``--smoke``: two calls each, one CLI read.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from orchestrator.governance import actions, agents, sessions
from orchestrator.state import tasks
from orchestrator.state.setup import init
from orchestrator.state.taskcard import Criterion, RoleMode, TaskCard

AIOS = [sys.executable, "-m", "orchestrator"]


def workspace(root: Path) -> tuple[Path, str, str]:
    """A workspace with one ready task and a builder session on it: (root, task id, token)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    ws, _ = init(root, owner="alice")
    card = TaskCard(
        id="TASK_DEV_0000", title="t", queue="dev", acceptance_criteria=[Criterion(id="AC1", text="x")]
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    agents.register(ws, "bench", role_modes=[RoleMode.BUILDER], queues=None, actor="alice")
    _, token = sessions.create(
        ws, agent_id="bench", role_mode=RoleMode.BUILDER, task_scope=[tid], actor="alice"
    )
    return root, tid, token


async def timed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


async def over(client_target: object, tid: str, token: str, repeat: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    async with Client(client_target) as client:
        connected = time.perf_counter() - start

        async def status() -> None:
            result = await client.call_tool("task_status", {"session_token": token, "task_id": tid})
            assert not result.is_error, result.content[0].text

        await status()  # warm: the first call imports the services
        return connected, await timed(status, repeat)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_server(root: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [*AIOS, "--root", str(root), "mcp", "--http", "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    raise SystemExit("the HTTP server did not start")


def cli(root: Path, tid: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            [*AIOS, "--root", str(root), "task", "status", tid, "--json"], check=True, capture_output=True
        )
        out.append(time.perf_counter() - start)
    return out


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    repeat = 2 if args.smoke else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        root, tid, token = workspace(Path(tmp) / "repo")
        params = StdioServerParameters(command=sys.executable, args=[*AIOS[1:], "--root", str(root), "mcp"],
                                       env={"PATH": os.environ["PATH"]})  # fmt: skip
        stdio_start, stdio = anyio.run(over, params, tid, token, repeat)
        port = free_port()
        proc = http_server(root, port)
        try:
            http_start, http = anyio.run(over, f"http://127.0.0.1:{port}/mcp", tid, token, repeat)
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        through_cli = cli(root, tid, 1 if args.smoke else max(10, repeat // 5))
    print(f"task_status, median of {repeat} calls (one task):")
    print(f"  MCP over stdio  {ms(stdio)}   (server start + handshake {stdio_start * 1000:.0f} ms, once)")
    print(f"  MCP over HTTP   {ms(http)}   (client connect {http_start * 1000:.0f} ms, once)")
    print(f"  CLI subprocess  {ms(through_cli)}   (`aios task status --json`, a new process per read)")


if __name__ == "__main__":
    main()
