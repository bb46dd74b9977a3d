"""Helpers shared by test modules (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.governance import actions
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.sandbox.bwrap import CommandResult, Limits, run_command
from orchestrator.state import tasks
from orchestrator.state.project import Level
from orchestrator.state.taskcard import Criterion, TaskCard

if TYPE_CHECKING:
    from orchestrator.review.evidence import Runner, RunnerFactory
    from orchestrator.state.sessions import Session
    from orchestrator.state.workspace import Workspace


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def plain_runner(worktree: Path, timeout_s: float) -> Runner:
    """An evidence ``Runner`` without the sandbox: `run_command` with ``sandbox=False``.

    Review tests run trusted sample code, and not every machine has bubblewrap; the limits and
    the clean environment are the production ones, so only the confinement differs.
    """
    return _PlainRunner(worktree, Limits(timeout_s=timeout_s))


class _PlainRunner:
    """One plain runner; unsandboxed, its commands may write reports anywhere (``reports``)."""

    reports = Path(tempfile.gettempdir())

    def __init__(self, worktree: Path, limits: Limits) -> None:
        self.worktree, self.limits = worktree, limits

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        return run_command(argv, worktree=self.worktree, limits=self.limits, sandbox=False)


class _PlainRunners:
    """``plain_runner``s for one folder; ``at`` moves them (an evidence ``RelocatableRunners``)."""

    def __init__(self, worktree: Path) -> None:
        self.worktree = worktree

    def __call__(self, timeout_s: float) -> Runner:
        return plain_runner(self.worktree, timeout_s)

    def at(self, worktree: Path) -> _PlainRunners:
        return _PlainRunners(worktree)


def plain_runner_factory(worktree: Path) -> RunnerFactory:
    """``plain_runner``s for ``worktree``, one per time limit (an evidence ``RunnerFactory``)."""
    return _PlainRunners(worktree)


def run_aios(*args: str, cwd: Path, actor: str = "alice", env: dict[str, str] | None = None):
    """Run the real ``aios`` console script in a subprocess (exit codes, stderr, start-up)."""
    full_env = {**os.environ, "AIOS_ACTOR": actor, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )


#: Config keys of a nested repository that name a command, by the marker file each one touches.
NESTED_COMMANDS = {
    "clean": "filter.pwn.clean",
    "smudge": "filter.pwn.smudge",
    "process": "filter.pwn.process",
    "textconv": "diff.pwn.textconv",
    "external": "diff.external",
    "fsmonitor": "core.fsmonitor",
}


def plain_git(cwd: Path, *args: str) -> str:
    """Git as untrusted code (or an external builder) runs it: no hardening at all."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.com",
           "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.com"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def poison_nested_repo(worktree: Path, markers: Path, *, process: bool = False) -> Path:
    """What a sandboxed check can write: ``src/vendor``, a real repository whose config runs commands.

    Each command touches ``markers/<name>`` (`NESTED_COMMANDS`); attributes in the nested
    repository and at the worktree root select the filter and diff driver for every file, and
    ``.gitmodules`` asks git not to ignore the path. The nested file is left edited, so git
    would have to run the clean filter (or fsmonitor) to tell whether the repository is dirty.
    A ``process`` filter takes the place of clean and smudge, so it is a variant.
    """
    markers.mkdir(exist_ok=True)
    nested = worktree / "src" / "vendor"
    nested.mkdir(parents=True)
    plain_git(nested, "init", "-q")
    (nested / ".gitattributes").write_text("* filter=pwn diff=pwn\n")
    (nested / "lib.py").write_text("x = 1\n")
    plain_git(nested, "add", "-A")
    plain_git(nested, "commit", "-q", "-m", "vendored")
    for name, key in NESTED_COMMANDS.items():
        if name != "process" or process:
            # `cat` keeps clean/smudge/textconv working filters, so git does not stop at an error first.
            plain_git(nested, "config", key, f"touch {markers / name}; cat")
    (nested / "lib.py").write_text("x = 2\n")
    (worktree / ".gitattributes").write_text("* filter=pwn diff=pwn\n")
    (worktree / ".gitmodules").write_text(
        '[submodule "v"]\n\tpath = src/vendor\n\turl = ./v\n\tignore = none\n'
    )
    return nested


def commit_gitlink(worktree: Path, message: str = "vendor it") -> str:
    """An external builder's own ``git add -A; git commit``: a nested repository becomes a gitlink."""
    plain_git(worktree, "add", "-A")
    plain_git(worktree, "commit", "-q", "-m", message)
    return plain_git(worktree, "rev-parse", "HEAD").strip()


def fired(markers: Path) -> list[str]:
    """The nested repository's commands that ran (their marker files)."""
    return sorted(p.name for p in markers.iterdir()) if markers.is_dir() else []


def new_task(ws: Workspace, queue: str = "dev", title: str = "Do a thing") -> str:
    """A new task in ``queue``'s inbox, created by alice; returns its id."""
    card = TaskCard(
        id=f"TASK_{queue.upper()}_0000",
        title=title,
        queue=queue,
        acceptance_criteria=[Criterion(id="AC1", text="it works")],
    )
    return tasks.create(ws, card, actor="alice").id


def ready_task(ws: Workspace, queue: str = "dev") -> str:
    """A new task alice has approved, so it is ready to start; returns its id."""
    tid = new_task(ws, queue)
    actions.transition(ws, tid, "approve", actor="alice")
    return tid


def project_venv(path: Path, modules: dict[str, str] | None = None) -> Path:
    """A real venv at ``path`` (no pip, no network) with ``modules`` (name -> source) in its
    site-packages: a dependency only that project's environment has. Returns the venv folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python3*/site-packages"))
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(source)
    return path


def add_member(ws: Workspace, name: str, level: Level) -> None:
    """Add ``name`` to the project at authority ``level``, as the owner alice would."""
    from orchestrator.governance import members

    members.add(ws, name, level.role, actor="alice")


def agent_session(ws: Workspace, name: str, mode: str = "builder", scope: list[str] | None = None) -> Session:
    """A live session of agent ``name`` (registered by alice if new) in ``mode`` on ``scope``."""
    from orchestrator.governance import agents, sessions
    from orchestrator.state import agents as roster
    from orchestrator.state.taskcard import RoleMode

    if roster.load(ws).get(name) is None:
        agents.register(ws, name, role_modes=[RoleMode(mode)], queues=None, actor="alice")
    elif RoleMode(mode) not in (agent := agents.get(ws, name)).role_modes:
        agents.approve(ws, name, role_modes=[*agent.role_modes, RoleMode(mode)], queues=None, actor="alice")
    opened, _ = sessions.create(
        ws, agent_id=name, role_mode=RoleMode(mode), task_scope=scope or [], actor="alice"
    )
    return opened


#: A small project for review tests: ``add`` and its test.
CALC = {
    "src/__init__.py": "",
    "tests/__init__.py": "",
    "src/calc.py": '"""Small arithmetic."""\n\n\ndef add(a, b):\n    return a + b\n',
    "tests/test_calc.py": "from src.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}
#: The acceptance check of ``calc_change``'s ``mul``.
MUL_CHECK = 'python -c "from src.calc import mul; assert mul(2, 3) == 6"'


def calc_change(body: str = "a * b", *, before: str = "") -> dict[str, str]:
    """``CALC`` plus ``mul`` returning ``body`` (after ``before``'s lines) and a test of it."""
    return {
        "src/calc.py": CALC["src/calc.py"] + f"\n\n{before}def mul(a, b):\n    return {body}\n",
        "tests/test_calc.py": CALC["tests/test_calc.py"].replace("import add", "import add, mul")
        + "\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
    }


def write(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (path relative to ``root`` -> text), making folders as needed."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def started_calc_task(ws: Workspace) -> str:
    """A started task whose working ``mul`` and its test are committed on its branch (the static
    reviewer approves it), the calculator committed on main first; returns its id."""
    from orchestrator.sandbox import git

    write(ws.root, CALC)
    git.commit_all(ws.root, "calc")
    return calc_task(ws)


def calc_task(ws: Workspace, *, started: bool = True) -> str:
    """A task adding ``mul`` whose working change and its test are committed on its branch, forked
    from main (which must hold the calculator, ``CALC``): approved, and started unless
    ``started=False``; returns its id."""
    from orchestrator.sandbox import git

    card = TaskCard(
        id="TASK_DEV_0000",
        title="Add mul",
        queue="dev",
        paths=["src/", "tests/"],
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=MUL_CHECK)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    if started:
        actions.transition(ws, tid, "start", actor="alice")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    write(worktree, calc_change())
    git.commit_all(worktree, "Add mul")
    return tid


def merges_of(ws: Workspace, tid: str, branch: str = "main") -> list[str]:
    """The subjects of ``tid``'s merge commits on ``branch``."""
    from orchestrator.sandbox import git

    out = git.run(ws.root, "log", "--merges", "--format=%s", branch).stdout.decode()
    return [line for line in out.splitlines() if tid in line]


#: The one finding of ``reviewed_with_a_finding``'s round.
PRINT_FINDING = Finding(
    dimension=Dimension.OPTIMIZATION, severity=Severity.MINOR, file="feature.py", line=1,
    message="leftover debug print", suggestion="drop it", persona="testing_expert",
)  # fmt: skip


def reviewed_once(ws: Workspace, *, actor: str = "alice") -> str:
    """A started task through one scripted review round (APPROVED, one minor finding), waiting at
    the human checkpoint; its id. No model, no sandbox. ``actor`` (a member) makes and starts it
    (``bench/bench_startup.py`` builds its workspace with it too)."""
    tid = started_feature_task(ws, actor=actor)
    reviewed_with_a_finding(ws, tid, actor=actor)
    return tid


def started_feature_task(ws: Workspace, *, actor: str = "alice") -> str:
    """A started task (its worktree made) on a repository with one commit; its id."""
    from orchestrator.sandbox import git

    (ws.root / "README.md").write_text("demo\n")
    git.commit_all(ws.root, "initial")
    card = TaskCard(
        id="TASK_DEV_0000", title="Feature", queue="dev", acceptance_criteria=[Criterion(id="AC1", text="ok")]
    )
    tid = tasks.create(ws, card, actor=actor).id
    actions.transition(ws, tid, "approve", actor=actor)
    actions.transition(ws, tid, "start", actor=actor)
    git.ensure_worktree(ws.root, tid, "main")
    return tid


def reviewed_with_a_finding(ws: Workspace, tid: str, *, actor: str = "alice") -> None:
    """One scripted round of ``tid`` (its builder writes ``feature.py``), APPROVED with a minor
    finding (``PRINT_FINDING``), left at the human checkpoint."""
    from typing import Any

    from orchestrator.review.round import CheckResult
    from orchestrator.sandbox import git
    from orchestrator.workflow import runs
    from orchestrator.workflow.graph import RunContext
    from orchestrator.workflow.settings import WorkflowSettings

    def builder(ctx: RunContext, state: Any) -> str:
        (git.worktree_path(ctx.ws.root, tid) / "feature.py").write_text("print(1)\n")
        return "feature"

    def aggregate(ctx: RunContext, state: Any, checks: list[CheckResult]) -> dict[str, Any]:
        return {"verdict": "APPROVED", "reasons": ["minor only"], "findings": [PRINT_FINDING], "feedback": []}

    card = runs.load_card(ws, tid)
    ctx = RunContext(
        ws=ws, card=card, workflow=WorkflowSettings(), builder=builder,
        check=lambda ctx, state, dim: CheckResult(dimension=dim), aggregate=aggregate,
    )  # fmt: skip
    start = {"task_id": tid, "round": 0, "base": git.head(ws.root), "checks": {}, "feedback": []}
    with runs.open_graph(ws) as graph, runs.run_agents(ws, card, by=actor) as ctx.sessions:
        graph.invoke(start, {"configurable": {"thread_id": tid}}, context=ctx, durability="sync")
