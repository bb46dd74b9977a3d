"""Static review orchestration overhead: a static review beside the same evidence commands run alone.

Reviews bench_evidence's generated ~500-line change (a task of a real workspace) with the runners
``aios review run --reviewer static`` uses (`SandboxRunners`), noting every evidence command the
review runs and on which dimension's thread. The floor runs exactly those commands through the
same runners (the same sandbox, limits and environment), each dimension's one after another and
the dimensions in parallel threads, as the review schedules them, and nothing else. Rows:

* ``review_static``: one static round (`orchestrator.review.round.review_static`);
* ``runs.run``: the whole ``aios review run --builder external --reviewer static`` in-process (the
  graph, its checkpoint, the report, the task's status and audit trail), a fresh task each run;
* the same ``review_static`` as before evidence commands turned pytest's plugin autoload off
  (aios's langsmith and anyio plugins loaded into every acceptance check and test run).

Runs alternate; figures are medians. Aim: review / floor <= 1.2.

    python bench/bench_review_overhead.py [--runs 7] [--no-sandbox] [--profile] [--smoke]

``--profile`` prints where the review's own time goes (cProfile, our functions by cumulative time).
``--smoke``: one tiny change, one run each, unsandboxed; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_evidence import CRITERIA, commit, git, module, test_module  # noqa: E402

from orchestrator.governance import actions  # noqa: E402
from orchestrator.review.evidence import Runner  # noqa: E402
from orchestrator.review.evidence._base import report_folder  # noqa: E402
from orchestrator.review.round import RoundOutcome, review_static  # noqa: E402
from orchestrator.sandbox import git as aios_git  # noqa: E402
from orchestrator.sandbox.bwrap import CommandResult, bwrap_available  # noqa: E402
from orchestrator.state import tasks  # noqa: E402
from orchestrator.state.setup import init  # noqa: E402
from orchestrator.state.taskcard import Criterion, TaskCard  # noqa: E402
from orchestrator.state.workspace import Workspace  # noqa: E402
from orchestrator.workflow import runs as aios_runs  # noqa: E402
from orchestrator.workflow.options import RunOptions  # noqa: E402
from orchestrator.workflow.wiring import SandboxRunners  # noqa: E402

ACTOR = "bench"
PYTEST_CHECK = Criterion(
    id="AC3",
    text="the first module's tests pass",
    check="python -m pytest -q -p no:cacheprovider tests/test_new0.py",
)
"""An acceptance check that runs pytest, as many do (the issue's "every acceptance check's pytest")."""


@dataclass(frozen=True)
class Command:
    """One evidence command as the review ran it."""

    thread: str
    argv: tuple[str, ...]
    project: bool
    """Run by the project's runner (tests, acceptance checks), else aios's tools' runner."""
    timeout_s: float


class Noting:
    """`SandboxRunners` that note each command their runners run (into ``log``)."""

    def __init__(self, inner: SandboxRunners, log: list[Command]) -> None:
        self.inner, self.log = inner, log

    def __call__(self, timeout_s: float) -> Runner:
        return _NotingRunner(self.inner(timeout_s), self.log, False, timeout_s)

    def project(self, timeout_s: float) -> Runner:
        return _NotingRunner(self.inner.project(timeout_s), self.log, True, timeout_s)

    def at(self, worktree: Path) -> Noting:
        return Noting(self.inner.at(worktree), self.log)


@dataclass
class _NotingRunner:
    run: Runner
    log: list[Command]
    project: bool
    timeout_s: float

    @property
    def reports(self) -> Path:
        return self.run.reports  # type: ignore[attr-defined, no-any-return]

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        name = threading.current_thread().name
        self.log.append(Command(name, tuple(argv), self.project, self.timeout_s))
        return self.run(argv)


@dataclass(frozen=True)
class Setup:
    """A workspace whose main has ``base_modules`` modules, and how to make a task adding more."""

    ws: Workspace
    change: dict[str, str]

    def task(self) -> tuple[str, Path]:
        """A new started task whose branch holds the change: its id and worktree."""
        card = TaskCard(id="TASK_DEV_0000", title="Bench", queue="dev", acceptance_criteria=CARD_CRITERIA)
        tid = tasks.create(self.ws, card, actor=ACTOR).id
        actions.transition(self.ws, tid, "approve", actor=ACTOR)
        actions.transition(self.ws, tid, "start", actor=ACTOR)
        worktree = aios_git.ensure_worktree(self.ws.root, tid, "main")
        commit(worktree, self.change, "add modules")
        return tid, worktree


CARD_CRITERIA = [*CRITERIA, PYTEST_CHECK]


def make_workspace(root: Path, *, modules: int, base_modules: int) -> Setup:
    """A new workspace with ``base_modules`` modules on main; a task adds ``modules`` more, with tests."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = {f"pkg/old{i}.py": module(100 + i, 7) for i in range(base_modules)}
    base |= {"pkg/__init__.py": "", "tests/test_smoke.py": "def test_smoke():\n    assert True\n"}
    commit(repo, base, "base")
    ws, _ = init(repo, owner=ACTOR)
    change = {f"pkg/new{n}.py": module(n, 10) for n in range(modules)}
    change |= {f"tests/test_new{n}.py": test_module(n, 10) for n in range(modules)}
    return Setup(ws, change)


def review(worktree: Path, base: str, runners: object) -> RoundOutcome:
    return review_static(worktree, base=base, runners=runners, criteria=CARD_CRITERIA)  # type: ignore[arg-type]


def whole_run(setup: Setup, *, sandbox: bool) -> Callable[[], float]:
    """Seconds of one ``aios review run --builder external --reviewer static`` of a fresh task
    (the task is made before the clock starts)."""
    options = RunOptions(sandbox=sandbox, builder_mode="external", reviewer_mode="static")

    def run() -> float:
        tid, _ = setup.task()
        start = time.perf_counter()
        status = aios_runs.run(setup.ws, tid, options, actor=ACTOR)
        elapsed = time.perf_counter() - start
        assert status.verdict == "APPROVED", status.reasons  # a broken bench must not print figures
        return elapsed

    return run


def clocked(fn: Callable[[], object]) -> Callable[[], float]:
    """``fn`` returning the seconds it took."""

    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def floor(commands: Sequence[Command], runners: SandboxRunners) -> None:
    """Run ``commands`` as the review scheduled them: per thread in order, the threads in parallel."""
    by_thread: dict[str, list[Command]] = {}
    for c in commands:
        by_thread.setdefault(c.thread, []).append(c)
    with ThreadPoolExecutor(max_workers=len(by_thread) or 1) as pool:
        list(pool.map(lambda group: [_rerun(c, runners) for c in group], by_thread.values()))


def _rerun(command: Command, runners: SandboxRunners) -> CommandResult:
    run = runners.project(command.timeout_s) if command.project else runners(command.timeout_s)
    old = re.compile(re.escape(str(runners.reports)) + r"/report-[^/\s]+")
    # A report folder lives for one command: give the re-run a fresh one, as the review did.
    with report_folder(run) as folder:
        argv = [old.sub(str(folder), arg) for arg in command.argv]
        return run(argv)


def medians(cases: Mapping[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """Median seconds of each case (each returns its own time), alternating run by run so drift
    hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            times[name].append(fn())
    return {name: statistics.median(t) for name, t in times.items()}


def compare(setup: Setup, *, sandbox: bool, runs: int, smoke: bool = False) -> None:
    _, worktree = setup.task()
    base = git(worktree, "merge-base", "main", "HEAD").strip()
    runners = SandboxRunners(worktree, sandbox)
    log: list[Command] = []
    outcome = review(worktree, base, Noting(runners, log))  # also the warm-up
    commands = list(log)
    if not smoke:
        whole_run(setup, sandbox=sandbox)()  # warm-up: the graph's imports
    cases = {
        "floor": clocked(lambda: floor(commands, runners)),
        "review": clocked(lambda: review(worktree, base, runners)),
        "whole": whole_run(setup, sandbox=sandbox),
    }
    if not smoke:  # pytest loads every plugin aios's environment has, as before
        before = SandboxRunners(worktree, sandbox, variables={})
        cases["old"] = clocked(lambda: review(worktree, base, before))
    figures = medians(cases, runs)
    label = "bubblewrap sandbox" if sandbox else "no sandbox"
    print(f"\n[{label}] verdict {outcome.verdict.value}; {len(commands)} commands; medians of {runs}")
    _row("evidence commands alone", figures["floor"], "(the floor)")
    for key, name in (("review", "review_static"), ("whole", "runs.run (aios review run --reviewer static)")):
        _row(name, figures[key], f"/ floor = {figures[key] / figures['floor']:.2f} (aim <= 1.2)")
    if not smoke:
        _row("review_static, aios's pytest plugins loaded", figures["old"],
             f"/ floor = {figures['old'] / figures['floor']:.2f} (before)")  # fmt: skip
    for c in commands:
        print(f"    {'project' if c.project else 'aios':<8}{' '.join(c.argv)[:100]}")


def _row(label: str, seconds: float, note: str) -> None:
    print(f"  {label:<48}{seconds:7.2f} s   {note}")


def profile(setup: Setup, *, sandbox: bool) -> None:
    _, worktree = setup.task()
    base = git(worktree, "merge-base", "main", "HEAD").strip()
    runners = SandboxRunners(worktree, sandbox)
    review(worktree, base, runners)
    prof = cProfile.Profile()
    prof.enable()
    review(worktree, base, runners)
    prof.disable()
    print("\n[profile] the review's own functions by cumulative time (threads other than the caller's")
    print("are not profiled: the dimensions' work shows as waiting in the pool)")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(r"orchestrator", 25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-sandbox", action="store_true", help="only the unsandboxed runner")
    parser.add_argument("--profile", action="store_true", help="also profile one review")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run, unsandboxed")
    args = parser.parse_args()
    modules, base_modules, runs = (2, 2, 1) if args.smoke else (4, 40, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        setup = make_workspace(Path(tmp), modules=modules, base_modules=base_modules)
        compare(setup, sandbox=False, runs=runs, smoke=args.smoke)
        if not (args.no_sandbox or args.smoke) and bwrap_available():
            compare(setup, sandbox=True, runs=runs)
        if args.profile:
            profile(setup, sandbox=False)


if __name__ == "__main__":
    main()
