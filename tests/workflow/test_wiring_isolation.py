"""The project's commands (acceptance checks, the tests) never run with aios's own pytest plugins
or environment variables, whether aios's pytest stands in for the project's or not.

aios's environment installs pytest plugins the project never asked for (langsmith's, anyio's):
a probe test fails when any of them loaded. Commands run in the sandbox where bubblewrap works.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git_repo, project_venv

from orchestrator.governance import actions
from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.report import RoundReport, report_paths
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.settings import WorkflowSettings
from orchestrator.workflow.wiring import SandboxRunners, project_environment, project_variables

SANDBOX = bwrap_available()
AIOS_ONLY = ("langsmith", "anyio")
PROBE = f"""import sys


def test_no_plugin_of_aioss_loaded(request):
    names = {{name for name, _ in request.config.pluginmanager.list_name_plugin() if name}}
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {AIOS_ONLY!r})
    print("PLUGINS", sorted(names), "LOADED", loaded)
    assert not loaded and not names & {{"langsmith_plugin", "anyio"}}
"""
CHECK = "pytest -q -p no:cacheprovider tests/test_probe.py"
ENV_PROBE = ["python", "-c", "import os; print(' '.join(sorted(os.environ)))"]


def _project(root: Path) -> Path:
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_probe.py").write_text(PROBE)
    return root


def test_aioss_own_environment_has_the_plugins_the_probe_looks_for() -> None:
    """The control for every test below: without this, "none loaded" would prove nothing."""
    from importlib import metadata

    plugins = {ep.value.split(".")[0] for ep in metadata.entry_points(group="pytest11")}
    assert plugins & set(AIOS_ONLY), plugins


def test_an_acceptance_check_with_aioss_pytest_loads_none_of_its_plugins(tmp_path: Path) -> None:
    repo = _project(git_repo(tmp_path / "repo"))
    runners = SandboxRunners(repo, SANDBOX)  # no project environment: aios's pytest stands in
    done = runners.project(60)(CHECK.split())
    assert done.returncode == 0, done.stdout + done.stderr
    # The control: the same command with pytest's plugin autoload left on loads langsmith's.
    with_plugins = SandboxRunners(repo, SANDBOX, variables={}).project(60)(CHECK.split())
    assert with_plugins.returncode == 1 and "langsmith" in with_plugins.stdout


def test_the_projects_own_pytest_keeps_the_projects_plugins(tmp_path: Path) -> None:
    """With pytest in the project's environment nothing is turned off: its plugins are its own."""
    root = git_repo(tmp_path / "repo")
    venv = project_venv(root / ".venv")
    (venv / "bin" / "pytest").write_text("")  # the project installed pytest
    assert project_variables(root, WorkflowSettings()) == {}
    (venv / "bin" / "pytest").unlink()
    assert project_variables(root, WorkflowSettings()) == {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_the_projects_own_pytest_runs_the_check_with_autoload_left_on(tmp_path: Path) -> None:
    """With a project environment the check runs there: its pytest, its interpreter, its plugins."""
    root = git_repo(tmp_path / "repo")
    venv = project_venv(root / ".venv")
    script = venv / "bin" / "pytest"  # stands for the project's pytest: says who it is and what it got
    script.write_text(
        f"#!{venv}/bin/python\nimport os, sys\n"
        "print('project pytest', sys.prefix, os.environ.get('PYTEST_DISABLE_PLUGIN_AUTOLOAD'))\n"
    )
    script.chmod(0o755)
    workflow = WorkflowSettings()
    env = project_environment(root, workflow)
    runners = SandboxRunners(root, SANDBOX, environment=env, variables=project_variables(root, workflow))
    done = runners.project(30)(CHECK.split())
    assert done.stdout.strip() == f"project pytest {venv} None", done.stderr


@pytest.mark.parametrize("sandbox", [False, pytest.param(True, marks=pytest.mark.skipif(
    not SANDBOX, reason="bubblewrap cannot create a sandbox here"))])  # fmt: skip
def test_no_aios_or_provider_variable_reaches_the_projects_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: bool
) -> None:
    for name in ("AIOS_ROOT", "AIOS_STATE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LANGSMITH_API_KEY"):
        monkeypatch.setenv(name, "leaked-value")
    repo = git_repo(tmp_path / "repo")
    for run in (SandboxRunners(repo, sandbox).project(30), SandboxRunners(repo, sandbox)(30)):
        names = set(run(ENV_PROBE).stdout.split())
        assert "PATH" in names and not {n for n in names if n.startswith(("AIOS_", "OPENAI", "ANTHROPIC",
                                                                          "LANGSMITH"))}  # fmt: skip


def test_a_static_review_runs_the_checks_and_tests_without_aioss_plugins(ws: Workspace) -> None:
    """End to end (``aios review run --reviewer static``): the acceptance check and the tests
    (aios's test driver, under coverage) both run the probe, and it passes in both."""
    _project(ws.root)
    git.commit_all(ws.root, "probe")
    criteria = [Criterion(id="AC1", text="no aios plugin", check=CHECK)]
    card = TaskCard(
        id="TASK_DEV_0000", title="Probe", queue="dev", body="Probe.\n", acceptance_criteria=criteria
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    (worktree / "src.py").write_text("def f():\n    return 1\n")
    (worktree / "tests" / "test_src.py").write_text(
        "from src import f\n\n\ndef test_f():\n    assert f() == 1\n"
    )
    git.commit_all(worktree, "f")
    options = RunOptions(sandbox=SANDBOX, builder_mode="external", reviewer_mode="static")
    runs.run(ws, tid, options, actor="alice")
    report = RoundReport.model_validate_json(report_paths(ws, tid, 1)[1].read_text())
    checks = {e.name: e for e in report.evidence}
    assert checks["acceptance:AC1"].status is EvidenceStatus.PASSED, checks["acceptance:AC1"].output_tail
    assert checks["tests"].status is EvidenceStatus.PASSED, checks["tests"].output_tail
    assert "changed lines covered: 2/2" in checks["coverage"].output_tail  # coverage still measured
