"""Checks run with the target branch's test configuration; a change to it is a finding a human sees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import plain_runner_factory

from orchestrator.review.evidence import EvidenceStatus, collect_dimension
from orchestrator.review.evidence.testconfig import RULE, checks_view, config_changes_check, is_test_config
from orchestrator.review.findings import Dimension, Severity
from orchestrator.review.policy import Verdict
from orchestrator.review.round import review_static, round_inputs
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state.taskcard import Criterion
from orchestrator.workflow.wiring import SandboxRunners

from ..sample import SampleRepo

BROKEN = '"""User lookups."""\n\n\ndef normalise(name):\n    return name\n'  # no strip, no lower
FORCE_PASS = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None


def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0
"""
CHECK = Criterion(id="AC1", text="names are normalised", check="python -m pytest -q -p no:cacheprovider")


def pytest_in(folder: Path) -> int:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    return subprocess.run(argv, cwd=folder, capture_output=True, check=False).returncode


@pytest.mark.parametrize("sandboxed", [pytest.param(True, id="sandbox"), pytest.param(False, id="plain")])
def test_a_conftest_forcing_a_pass_does_not_turn_a_failing_check_into_approved(
    sample_repo: SampleRepo, sandboxed: bool
) -> None:
    if sandboxed and not bwrap_available():
        pytest.skip("bubblewrap cannot sandbox here")
    head = sample_repo.commit({"app/users.py": BROKEN, "conftest.py": FORCE_PASS}, "tests pass now")
    assert pytest_in(sample_repo.path) == 0  # the hook does force a pass, in the change's own tree
    runners = SandboxRunners(sample_repo.path, True) if sandboxed else plain_runner_factory(sample_repo.path)

    report = review_static(sample_repo.path, base="main", head=head, runners=runners, criteria=[CHECK])

    by_name = {r.name: r for r in report.evidence}
    assert by_name["acceptance:AC1"].status is EvidenceStatus.FAILED
    assert by_name["tests"].status is EvidenceStatus.FAILED
    assert any(f.rule == "tests" and "test_normalise" in f.message for f in by_name["tests"].findings)
    [changed] = by_name["test-config"].findings
    assert (changed.rule, changed.file, changed.severity) == (RULE, "conftest.py", Severity.MAJOR)
    assert report.verdict is not Verdict.APPROVED
    assert (sample_repo.path / "conftest.py").read_text() == FORCE_PASS  # the worktree was not touched


def test_the_view_has_the_base_versions_and_drops_files_the_base_lacks(sample_repo: SampleRepo) -> None:
    base = sample_repo.commit({"tests/conftest.py": "BASE = 1\n", "app/x.pth": "import os\n"}, "base config")
    head = sample_repo.commit(
        {"tests/conftest.py": "CHANGED = 1\n", "app/x.pth": None, "sitecustomize.py": "import os\n"}, "edit"
    )
    ctx = round_inputs(sample_repo.path, base=base, head=head).evidence
    with checks_view(ctx) as view:
        assert view.worktree != ctx.worktree
        assert (view.worktree / "tests/conftest.py").read_text() == "BASE = 1\n"
        assert (view.worktree / "app/x.pth").read_text() == "import os\n"
        assert not (view.worktree / "sitecustomize.py").exists()
        assert (view.worktree / "app/users.py").read_text() == (sample_repo.path / "app/users.py").read_text()
        copy = view.worktree
    assert not copy.exists()
    assert (sample_repo.path / "tests/conftest.py").read_text() == "CHANGED = 1\n"
    paths = sorted(f.file for f in config_changes_check(ctx)[0].findings)
    assert paths == ["app/x.pth", "sitecustomize.py", "tests/conftest.py"]


def test_no_test_configuration_changed_runs_in_the_worktree_itself(sample_repo: SampleRepo) -> None:
    head = sample_repo.commit({"app/users.py": BROKEN}, "edit")
    ctx = round_inputs(sample_repo.path, base="main", head=head).evidence
    with checks_view(ctx) as view:
        assert view is ctx
    assert config_changes_check(ctx) == []  # no result: the evidence reads as before


def findings_of(sample_repo: SampleRepo, base: str, head: str):
    [result] = config_changes_check(round_inputs(sample_repo.path, base=base, head=head).evidence)
    return result.findings


def test_pyproject_counts_only_when_its_test_sections_change(sample_repo: SampleRepo) -> None:
    base = sample_repo.commit({"pyproject.toml": '[project]\nname = "x"\n'}, "pyproject")
    deps = sample_repo.commit({"pyproject.toml": '[project]\nname = "x"\ndependencies = ["attrs"]\n'}, "deps")
    assert findings_of(sample_repo, base, deps) == []
    opts = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-p no:x"\n'
    head = sample_repo.commit({"pyproject.toml": opts}, "pytest options")
    [finding] = findings_of(sample_repo, base, head)
    assert (finding.file, finding.rule) == ("pyproject.toml", RULE)


def test_setup_cfg_coverage_section_counts(sample_repo: SampleRepo) -> None:
    base = sample_repo.commit({"setup.cfg": "[metadata]\nname = x\n"}, "cfg")
    head = sample_repo.commit({"setup.cfg": "[metadata]\nname = x\n\n[coverage:run]\nomit = app/*\n"}, "cov")
    [finding] = findings_of(sample_repo, base, head)
    assert finding.file == "setup.cfg"


def test_a_declared_pytest_plugin_is_a_finding_at_its_line(sample_repo: SampleRepo) -> None:
    text = "pytest_plugins = ['tests.helper_plugin']\n\n\ndef test_x():\n    pass\n"
    head = sample_repo.commit({"tests/test_plugin.py": text}, "plugin")
    [finding] = findings_of(sample_repo, "main", head)
    assert (finding.file, finding.line, finding.rule) == ("tests/test_plugin.py", 1, RULE)
    assert "plugin" in finding.message


def test_a_readme_mentioning_a_plugin_is_no_finding(sample_repo: SampleRepo) -> None:
    head = sample_repo.commit({"README.md": "Set `pytest_plugins` in the root conftest.\n"}, "docs")
    assert config_changes_check(round_inputs(sample_repo.path, base="main", head=head).evidence) == []


def test_runners_that_cannot_move_make_the_checks_an_error_not_a_run_in_the_change(
    sample_repo: SampleRepo,
) -> None:
    head = sample_repo.commit({"app/users.py": BROKEN, "conftest.py": FORCE_PASS}, "tests pass now")
    ctx = round_inputs(sample_repo.path, base="main", head=head, criteria=[CHECK]).evidence
    fixed = plain_runner_factory(sample_repo.path)
    [result] = collect_dimension(ctx, Dimension.REQUIREMENTS, lambda timeout: fixed(timeout))
    assert result.status is EvidenceStatus.ERROR and "test configuration" in (result.reason or "")


def test_which_paths_are_test_configuration() -> None:
    yes = ["conftest.py", "a/b/conftest.py", "tox.ini", "pytest.ini", ".coveragerc", "setup.cfg",
           "pyproject.toml", "src/sitecustomize.py", "usercustomize.py", "lib/evil.pth"]  # fmt: skip
    no = ["app/conftest_helpers.py", "tests/test_conftest.py", "README.md", "pth.py"]
    assert all(map(is_test_config, yes)) and not any(map(is_test_config, no))
