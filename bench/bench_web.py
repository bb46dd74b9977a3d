"""Web page server time at 10,000 tasks: the board and a task page, beside a trivial route.

Builds a workspace of ``--tasks`` task files (``--live`` of them on the board, the rest done) plus
one task the static reviewer approved (a real diff, report and audit trail), then times
``GET /``, ``GET /tasks/<ID>`` and ``GET /ping`` in-process with Starlette's TestClient, logged
in; prints the median of each. Unsandboxed; prints figures, asserts nothing.

    python bench/bench_web.py [--tasks 10000] [--live 200] [--repeat 15] [--smoke]

``--smoke``: 30 tasks, 5 live, two requests each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_state import build
from starlette.testclient import TestClient

from orchestrator.governance import actions
from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.web.app import create_app
from orchestrator.web.auth import Gate

CALC = '"""Small arithmetic."""\n\n\ndef add(a, b):\n    return a + b\n'
TEST = "from src.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def reviewed(ws: Workspace) -> str:
    """One task through a static review to the human checkpoint (a minor ruff finding at its line)."""
    from orchestrator.workflow import runs
    from orchestrator.workflow.options import RunOptions

    write(
        ws.root,
        {"src/__init__.py": "", "tests/__init__.py": "", "src/calc.py": CALC, "tests/test_calc.py": TEST},
    )
    git.commit_all(ws.root, "calc")
    check = 'python -c "from src.calc import mul; assert mul(2, 3) == 6"'
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Add mul",
        queue="dev",
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=check)],
    )
    tid = tasks.create(ws, card, actor="bench").id
    actions.transition(ws, tid, "approve", actor="bench")
    actions.transition(ws, tid, "start", actor="bench")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    test_mul = (
        TEST.replace("import add", "import add, mul") + "\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
    )
    mul = CALC + "\n\nimport os\n\n\ndef mul(a, b):\n    return a * b\n"
    write(worktree, {"src/calc.py": mul, "tests/test_calc.py": test_mul})
    git.commit_all(worktree, "Add mul")
    options = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=False)
    result = runs.run(ws, tid, options, actor="bench")
    assert result.waiting_for == "human_review", result
    return tid


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--live", type=int, default=200, help="tasks on the board (not done)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    if args.smoke:
        args.tasks, args.live, args.repeat = 30, 5, 2
    os.environ.setdefault("AIOS_MODEL", "fake")
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        os.environ.setdefault(key, "bench")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        os.environ.setdefault(key, "bench@example.com")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        start = time.perf_counter()
        build(root, args.tasks, args.live)
        subprocess.run(["git", "-C", str(root), "checkout", "-q", "-b", "main"], check=True)
        ws = Workspace(root)
        tid = reviewed(ws)
        took = time.perf_counter() - start
        print(f"built {args.tasks:,} tasks ({args.live:,} live) + 1 reviewed in {took:.1f} s")
        app = create_app(root, gate=Gate("bench"), sandbox=False)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            client.get("/login?token=bench")
            csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
            client.post("/login", data={"member": "bench", "csrf": csrf})
            board = client.get("/")
            assert board.status_code == 200 and tid in board.text, board.text[:500]
            page = client.get(f"/tasks/{tid}")
            assert page.status_code == 200 and "F401" in page.text
            sizes = f"{len(board.content) / 1e6:.1f} MB; task page {len(page.content) / 1e3:.0f} kB"
            print(f"board page: {sizes} of HTML")
            for name, path in (
                ("GET /ping (floor)", "/ping"),
                ("GET / (board)", "/"),
                ("GET /tasks/ID", f"/tasks/{tid}"),
            ):
                ms = median_ms(lambda p=path: client.get(p), args.repeat)
                print(f"{name:<20} median {ms:8.1f} ms over {args.repeat} requests")


if __name__ == "__main__":
    main()
