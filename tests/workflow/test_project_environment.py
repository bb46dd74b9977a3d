"""A project with its own venv and a dependency aios does not have, reviewed end to end.

The project's ``.venv`` (untracked, in the main checkout) holds ``projdep_xyz``; its code and tests
import it. ``aios review run --builder external --reviewer static`` (``runs.run``) must run the
tests and the acceptance checks with that venv's interpreter, in the sandbox where bubblewrap
works: a good change is APPROVED, a bad one NEEDS_REVISION naming the failing test.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from helpers import project_venv

from orchestrator.governance import actions
from orchestrator.resources import SHIPPED_ROOT
from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.report import RoundReport, report_paths
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.status import RunStatus

SANDBOX = bwrap_available()
DEP = "def scale(x):\n    return 2 * x\n"
BASE = {
    ".gitignore": ".venv/\n",
    "src/__init__.py": "",
    "tests/__init__.py": "",
    "src/geo.py": "from projdep_xyz import scale\n\n\ndef area(w, h):\n    return scale(w * h)\n",
    "tests/test_geo.py": "from src.geo import area\n\n\ndef test_area():\n    assert area(2, 3) == 12\n",
}
GOOD = {
    "src/geo.py": BASE["src/geo.py"] + "\n\ndef perimeter(w, h):\n    return scale(w + h)\n",
    "tests/test_geo.py": BASE["tests/test_geo.py"].replace("import area", "import area, perimeter")
    + "\n\ndef test_perimeter():\n    assert perimeter(2, 3) == 10\n",
}
BAD = {**GOOD, "src/geo.py": GOOD["src/geo.py"].replace("scale(w + h)", "scale(w + h) + 1")}
CHECK = 'python -c "from src.geo import perimeter; assert perimeter(1, 2) == 6"'


def start_task(ws: Workspace, change: Mapping[str, str]) -> str:
    """The project (with its venv) on main, and a started task whose branch holds ``change``."""
    for rel, text in BASE.items():
        (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / rel).write_text(text)
    git.commit_all(ws.root, "geometry")
    project_venv(ws.root / ".venv", {"projdep_xyz": DEP})
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Add perimeter",
        queue="dev",
        body="Add a perimeter function.\n",
        acceptance_criteria=[Criterion(id="AC1", text="perimeter scales w + h", check=CHECK)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    for rel, text in change.items():
        (worktree / rel).write_text(text)
    git.commit_all(worktree, "Add perimeter")
    return tid


def review(ws: Workspace, tid: str) -> tuple[RunStatus, RoundReport]:
    options = RunOptions(sandbox=SANDBOX, builder_mode="external", reviewer_mode="static")
    status = runs.run(ws, tid, options, actor="alice")
    report = RoundReport.model_validate_json(report_paths(ws, tid, 1)[1].read_text())
    return status, report


def evidence(report: RoundReport) -> dict[str, EvidenceStatus]:
    return {e.name: e.status for e in report.evidence}


def test_aios_itself_lacks_the_projects_dependency() -> None:
    with pytest.raises(ImportError):
        import projdep_xyz  # noqa: F401


def test_a_good_change_is_approved_with_the_projects_own_environment(ws: Workspace) -> None:
    tid = start_task(ws, GOOD)
    status, report = review(ws, tid)
    assert (status.verdict, status.waiting_for) == ("APPROVED", "human_review"), status.reasons
    checks = evidence(report)
    assert (checks["tests"], checks["acceptance:AC1"]) == (EvidenceStatus.PASSED, EvidenceStatus.PASSED)
    tests = next(e for e in report.evidence if e.name == "tests")
    # The venv has neither pytest nor coverage: aios lent them, and says so.
    venv_python = ws.root / ".venv" / "bin" / "python"
    lent = f"aios: the tests ran with {venv_python}; coverage and pytest came from aios's own environment"
    assert lent in tests.output_tail
    coverage = next(e for e in report.evidence if e.name == "coverage")
    assert coverage.status is EvidenceStatus.PASSED and "changed lines covered: 2/2" in coverage.output_tail
    assert "projdep_xyz" not in " ".join(f.message for f in report.findings)


def test_a_bad_change_needs_revision_naming_the_failing_test(ws: Workspace) -> None:
    tid = start_task(ws, BAD)
    status, report = review(ws, tid)
    assert (status.verdict, status.waiting_for) == ("NEEDS_REVISION", "builder")
    failing = [(f.severity.value, f.file, f.message) for f in report.findings if f.rule == "tests"]
    assert failing == [("critical", "tests/test_geo.py", "test tests/test_geo.py::test_perimeter fails")]
    assert evidence(report)["acceptance:AC1"] is EvidenceStatus.FAILED
    assert "No module named" not in "\n".join(e.output_tail for e in report.evidence)


def test_without_its_environment_the_same_project_fails_to_import(ws: Workspace) -> None:
    """The control: aios's own interpreter (the setting names it) cannot import projdep_xyz."""
    workflow = (SHIPPED_ROOT / "workflows" / "pair_programming.yaml").read_text()
    own = workflow.replace("      python: null", "      python: [python]")
    assert own != workflow
    (ws.root / "workflows").mkdir(exist_ok=True)
    (ws.root / "workflows" / "pair_programming.yaml").write_text(own)
    tid = start_task(ws, GOOD)
    status, report = review(ws, tid)
    assert status.verdict == "NEEDS_REVISION"  # the "critical: test fails" on an ImportError
    tests = next(e for e in report.evidence if e.name == "tests")
    assert "No module named 'projdep_xyz'" in tests.output_tail
