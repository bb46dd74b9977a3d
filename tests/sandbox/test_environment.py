"""The reviewed project's own Python environment: how it is found, and how commands run in it."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from helpers import git_repo, project_venv

from orchestrator.sandbox import environment, git
from orchestrator.sandbox.bwrap import Limits, bwrap_available, run_command
from orchestrator.sandbox.environment import ProjectEnvironment, resolve

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap cannot create a sandbox here")
DEP = {"projdep_xyz": "def scale(x):\n    return 2 * x\n"}
FAST = Limits(timeout_s=30)
IMPORTS_DEP = ["python", "-c", "import projdep_xyz, sys; print(projdep_xyz.scale(21), sys.prefix)"]


@pytest.fixture(autouse=True)
def _no_uv_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)
    environment._poetry_env.cache_clear()


def fake_venv(folder: Path, *, home: str = "/opt/python3.12/bin") -> Path:
    """Just enough of a venv to be found: pyvenv.cfg and bin/python (never run)."""
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text(f"home = {home}\nversion = 3.12.1\n")
    (folder / "bin" / "python").write_text("")
    return folder


def _fake_poetry(bin_dir: Path, answer: Path, log: Path) -> None:
    bin_dir.mkdir()
    script = bin_dir / "poetry"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho {answer}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


# --- the order of the search ----------------------------------------------------------------------


def test_nothing_found_is_aioss_own_interpreter(tmp_path: Path) -> None:
    assert resolve(tmp_path) is None


def test_a_dot_venv_in_the_root_is_the_projects(tmp_path: Path) -> None:
    fake_venv(tmp_path / ".venv")
    env = resolve(tmp_path)
    assert env is not None
    venv = tmp_path / ".venv"
    assert (env.source, env.prefix, env.python) == (".venv", venv, venv / "bin" / "python")
    # the venv and the installation it was made from (pyvenv.cfg's home) are what the sandbox shows
    assert set(env.read_only) == {tmp_path / ".venv", Path("/opt/python3.12")}


@pytest.mark.parametrize("home", ["/bin", "~/bin", "{root}/bin", "{root}/../bin"])
def test_a_base_installation_that_would_show_too_much_is_left_out(tmp_path: Path, home: str) -> None:
    root = tmp_path / "proj"
    fake_venv(root / ".venv", home=os.path.expanduser(home.format(root=root)))
    env = resolve(root)
    assert env is not None and env.read_only == (root / ".venv",)


def test_dot_venv_comes_before_venv(tmp_path: Path) -> None:
    fake_venv(tmp_path / "venv")
    assert resolve(tmp_path).source == "venv"  # type: ignore[union-attr]
    fake_venv(tmp_path / ".venv")
    assert resolve(tmp_path).source == ".venv"  # type: ignore[union-attr]


def test_a_folder_without_pyvenv_cfg_is_no_environment(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    assert resolve(tmp_path) is None


def test_uvs_project_environment_comes_before_dot_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_venv(tmp_path / ".venv")
    fake_venv(tmp_path / "envs" / "uv")
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "envs/uv")
    env = resolve(tmp_path)
    assert env is not None and (env.source, env.prefix) == ("$UV_PROJECT_ENVIRONMENT", tmp_path / "envs/uv")


def test_the_setting_comes_first(tmp_path: Path) -> None:
    fake_venv(tmp_path / ".venv")
    other = fake_venv(tmp_path / "elsewhere")
    env = resolve(tmp_path, python=[str(other / "bin" / "python")])
    assert env is not None
    assert (env.source, env.prefix) == ("evidence.completeness.tests.python", other)


def test_a_bare_command_as_the_setting_keeps_aioss_own(tmp_path: Path) -> None:
    fake_venv(tmp_path / ".venv")
    assert resolve(tmp_path, python=["python"]) is None
    assert resolve(tmp_path, python=["python3", "-X", "dev"]) is None


def test_aioss_own_environment_is_no_project_environment(tmp_path: Path) -> None:
    """aios installed in the project's own venv (an editable install): nothing changes."""
    (tmp_path / ".venv").symlink_to(sys.prefix)
    if not (tmp_path / ".venv" / "pyvenv.cfg").is_file():
        pytest.skip("aios does not run from a venv here")
    assert resolve(tmp_path) is None


def test_poetrys_environment_when_poetry_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = fake_venv(tmp_path / "cache" / "proj-abc-py3.12")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.poetry]\nname = "proj"\n')
    log = tmp_path / "poetry.log"
    _fake_poetry(tmp_path / "bin", venv, log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env = resolve(root)
    assert env is not None and (env.source, env.prefix) == ("poetry", venv)
    assert log.read_text() == "env info --path\n"


def test_poetry_is_not_asked_about_other_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    log = tmp_path / "poetry.log"
    _fake_poetry(tmp_path / "bin", tmp_path, log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert resolve(tmp_path) is None
    assert not log.exists()


def test_without_poetry_installed_a_poetry_project_has_no_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nname = "proj"\n')
    monkeypatch.setenv("PATH", "/nonexistent")
    assert resolve(tmp_path) is None


# --- running in it --------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, ProjectEnvironment]:
    """A repository with its own venv (holding projdep_xyz) and a task worktree inside it."""
    root = git_repo(tmp_path / "proj")
    (root / ".gitignore").write_text(".venv/\n")
    git.commit_all(root, "init")
    project_venv(root / ".venv", DEP)
    env = resolve(root)
    assert env is not None
    return root, env


@pytest.mark.parametrize("sandboxed", [pytest.param(True, marks=needs_bwrap), False])
def test_commands_run_with_the_projects_interpreter(
    project: tuple[Path, ProjectEnvironment], sandboxed: bool
) -> None:
    root, env = project
    worktree = git.ensure_worktree(root, "T1", "main")
    limits = FAST
    done = run_command(IMPORTS_DEP, worktree=worktree, limits=limits, sandbox=sandboxed, environment=env)
    assert (done.returncode, done.stdout.split()) == (0, ["42", str(root / ".venv")]), done.stderr
    shown = run_command(["sh", "-c", 'echo "$PATH $VIRTUAL_ENV"'], worktree=worktree, limits=limits,
                        sandbox=sandboxed, environment=env)  # fmt: skip
    path, venv = shown.stdout.split()
    assert path.split(os.pathsep)[0] == str(root / ".venv" / "bin") and venv == str(root / ".venv")
    # without it: aios's own interpreter, which has no projdep_xyz
    plain = run_command(IMPORTS_DEP, worktree=worktree, limits=limits, sandbox=sandboxed)
    assert plain.returncode == 1 and "No module named 'projdep_xyz'" in plain.stderr


@needs_bwrap
@pytest.mark.parametrize("in_main_checkout", [False, True])
def test_the_environment_is_read_only_in_the_sandbox(
    project: tuple[Path, ProjectEnvironment], in_main_checkout: bool
) -> None:
    root, env = project
    worktree = root if in_main_checkout else git.ensure_worktree(root, "T1", "main")
    site = next((root / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "projdep_xyz.py").chmod(0o666)  # writable by anyone: only the read-only mount refuses
    code = f"open({str(site / 'projdep_xyz.py')!r}, 'a').write('x = 1')"
    done = run_command(["python", "-c", code], worktree=worktree, limits=FAST, environment=env)
    assert done.returncode == 1 and "Read-only file system" in done.stderr
    assert "x = 1" not in (site / "projdep_xyz.py").read_text()


@needs_bwrap
def test_the_rest_of_the_main_checkout_stays_hidden(project: tuple[Path, ProjectEnvironment]) -> None:
    root, env = project
    (root / ".env").write_text("API_KEY=main-checkout-secret\n")
    worktree = git.ensure_worktree(root, "T1", "main")
    done = run_command(["ls", "-a", str(root)], worktree=worktree, limits=FAST, environment=env)
    assert done.returncode == 0
    assert set(done.stdout.split()) == {".", "..", ".git", ".aios", ".venv"}


# --- a pytest of aios's standing in loads none of aios's plugins -----------------------------------

AUTOLOAD_OFF = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_without_a_project_environment_aioss_pytest_stands_in_without_its_plugins() -> None:
    assert environment.pytest_variables(None) == AUTOLOAD_OFF


def test_an_environment_without_pytest_borrows_aioss_without_its_plugins(tmp_path: Path) -> None:
    env = resolve(tmp_path, python=[str(fake_venv(tmp_path / ".venv") / "bin" / "python")])
    assert env is not None and not env.has_pytest()
    assert environment.pytest_variables(env) == AUTOLOAD_OFF


@pytest.mark.parametrize("where", ["bin/pytest", "lib/python3.12/site-packages/pytest/"])
def test_the_projects_own_pytest_loads_the_projects_plugins(tmp_path: Path, where: str) -> None:
    venv = fake_venv(tmp_path / ".venv")
    (venv / where).parent.mkdir(parents=True, exist_ok=True)
    (venv / where).mkdir() if where.endswith("/") else (venv / where).write_text("")
    env = resolve(tmp_path)
    assert env is not None and env.has_pytest()
    assert environment.pytest_variables(env) == {}


def test_aios_installed_in_the_projects_environment_keeps_its_plugins(tmp_path: Path) -> None:
    """There aios's plugins are the project's too (its tests may need anyio's): nothing is turned off."""
    (tmp_path / ".venv").symlink_to(sys.prefix)
    if not (tmp_path / ".venv" / "pyvenv.cfg").is_file():
        pytest.skip("aios does not run from a venv here")
    assert resolve(tmp_path) is None and environment.shares_aios(tmp_path)
    assert environment.pytest_variables(None, shares=True) == {}
    assert not environment.shares_aios(tmp_path / "elsewhere")
    assert not environment.shares_aios(tmp_path, python=["python"])  # the setting: aios's own
