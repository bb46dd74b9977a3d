"""The builder's ``run_check`` runs the project's commands in the project's own environment."""

from __future__ import annotations

from pathlib import Path

from helpers import git_repo, project_venv

from orchestrator.llm.base import ToolCall
from orchestrator.sandbox import environment, git
from orchestrator.sandbox.bwrap import CommandPolicy, Limits, bwrap_available
from orchestrator.workflow.builder import BuilderTools
from orchestrator.workflow.settings import WorkflowSettings
from orchestrator.workflow.wiring import project_environment

CHECK = "python -c 'import projdep_xyz; print(projdep_xyz.VALUE)'"


def _tools(root: Path, env: environment.ProjectEnvironment | None) -> BuilderTools:
    worktree = git.ensure_worktree(root, "T1", "main")
    policy = CommandPolicy(["python -c"])
    return BuilderTools(worktree, policy=policy, limits=Limits(timeout_s=30), sandbox=bwrap_available(),
                        environment=env)  # fmt: skip


def test_run_check_uses_the_projects_venv(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "proj")
    (root / ".gitignore").write_text(".venv/\n")
    git.commit_all(root, "init")
    project_venv(root / ".venv", {"projdep_xyz": "VALUE = 42\n"})
    env = project_environment(root, WorkflowSettings())
    assert env is not None and env.source == ".venv"
    call = ToolCall(id="1", name="run_check", arguments={"command": CHECK})
    done = _tools(root, env).call(call)
    assert not done.is_error and done.content.startswith("exit code 0\n--- stdout (tail) ---\n42\n")
    without = _tools(root, None).call(call)  # aios's own interpreter lacks the dependency
    assert "No module named 'projdep_xyz'" in without.content


PROBE = "import sys\n\n\ndef test_probe():\n    assert not [m for m in sys.modules if 'langsmith' in m]\n"


def test_run_check_with_aioss_pytest_loads_none_of_aioss_plugins(tmp_path: Path) -> None:
    """No project environment: aios's pytest stands in, without langsmith's or anyio's plugin."""
    root = git_repo(tmp_path / "proj")
    (root / "test_probe.py").write_text(PROBE)
    git.commit_all(root, "probe")
    worktree = git.ensure_worktree(root, "T1", "main")
    call = ToolCall(
        id="1", name="run_check", arguments={"command": "pytest -q -p no:cacheprovider test_probe.py"}
    )

    def check(variables: dict[str, str] | None) -> str:
        tools = BuilderTools(worktree, policy=CommandPolicy(["pytest"]), limits=Limits(timeout_s=60),
                             sandbox=bwrap_available(), variables=variables)  # fmt: skip
        return tools.call(call).content

    assert check(None).startswith("exit code 0\n")
    assert check({}).startswith("exit code 1\n")  # the control: autoload on loads langsmith's plugin
