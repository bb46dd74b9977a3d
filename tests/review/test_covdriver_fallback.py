"""The coverage driver in a project's own environment: aios lends coverage and pytest, nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import iniconfig
from helpers import project_venv

from orchestrator.review.evidence import _covdriver
from orchestrator.review.evidence.completeness import DRIVER, _environment_note, fallback_modules

LENT = {"coverage", "pytest", "_pytest", "pluggy", "iniconfig", "packaging"}
TESTS = """
import importlib.util

import iniconfig
import projdep_xyz


def test_the_projects_own_dependency():
    assert projdep_xyz.VALUE == 42


def test_aioss_other_packages_stay_invisible():
    for name in ("pydantic", "yaml", "orchestrator", "langgraph"):
        assert importlib.util.find_spec(name) is None, name


def test_the_projects_own_module_wins_over_aioss():
    assert iniconfig.MINE
"""


def _names() -> set[str]:
    return {name for names in fallback_modules() for name in names.split(",")}


def test_only_coverage_pytest_and_what_they_need_are_lent() -> None:
    assert _names() >= LENT
    assert not _names() & {"orchestrator", "pydantic", "yaml", "langgraph", "openai", "ruff"}


def test_the_driver_runs_in_a_bare_venv_with_lent_coverage_and_pytest(tmp_path: Path) -> None:
    venv = project_venv(tmp_path / "venv", {"projdep_xyz": "VALUE = 42\n"})
    # iniconfig is one of pytest's requirements aios lends; the project has its own copy.
    own = next((venv / "lib").glob("python3*/site-packages")) / "iniconfig"
    shutil.copytree(Path(iniconfig.__file__).parent, own, ignore=shutil.ignore_patterns("__pycache__"))
    with (own / "__init__.py").open("a") as f:
        f.write("\nMINE = True\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "lib.py").write_text("def double(x):\n    return 2 * x\n")
    (proj / "test_lib.py").write_text("from lib import double\n\n\ndef test_it():\n    assert double(2)\n")
    (proj / "test_env.py").write_text(TESTS)
    lend = [a for names, at in fallback_modules().items() for a in ("--fallback", f"{names}={at}")]
    python = str(venv / "bin" / "python")
    argv = [python, str(DRIVER), "--include", "lib.py", *lend, "--", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(argv, cwd=proj, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    env = json.loads(next(ln for ln in lines if ln.startswith(f"{_covdriver.MARKER}-ENV ")).split(" ", 1)[1])
    assert env == {"python": str(venv / "bin" / "python"), "borrowed": ["coverage", "pytest"]}
    coverage = json.loads(lines[-1].split(" ", 1)[1])
    assert coverage == {"lib.py": {"statements": [1, 2], "missing": []}}


def test_the_note_names_the_interpreter_and_what_was_lent() -> None:
    own = json.dumps({"python": sys.executable, "borrowed": []})
    assert _environment_note(own) == ""  # aios's own interpreter: nothing to say, as before
    other = json.dumps({"python": "/p/.venv/bin/python", "borrowed": ["pytest"]})
    assert _environment_note(other) == (
        "aios: the tests ran with /p/.venv/bin/python; pytest came from aios's own environment "
        "(the project's has none)"
    )
    assert _environment_note(json.dumps({"python": "/p/.venv/bin/python", "borrowed": []})) == (
        "aios: the tests ran with /p/.venv/bin/python"
    )
