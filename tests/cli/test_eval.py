"""``aios eval``: the JSON figures, the exit code, the matching logic on a tiny corpus, the shipped corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.resources import SHIPPED_ROOT

SHIPPED = SHIPPED_ROOT / "eval"
TINY_CASES = ("_base", "sql-injection", "clean-docs")


def _eval(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", "--no-sandbox", *args])
    return result.exit_code, result.output


def _tiny(tmp_path: Path) -> Path:
    """Two cases of the shipped corpus, one defect and one clean, copied so a test may relabel them."""
    root = tmp_path / "corpus"
    for name in TINY_CASES:
        shutil.copytree(SHIPPED / name, root / name)
    return root


def test_a_correctly_labelled_corpus_scores_full_marks_and_exits_0(tmp_path: Path) -> None:
    code, out = _eval("--corpus", str(_tiny(tmp_path)), "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data) >= {"overall", "by_dimension", "by_severity", "clean", "per_case", "cases"}
    assert data["cases"] == 2
    assert data["overall"] == {"tp": 2, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert data["by_dimension"]["Q"]["tp"] == 1 and data["by_dimension"]["C"]["tp"] == 1
    assert data["clean"] == {"cases": 1, "flagged": 0, "false_positive_rate": 0.0}


def test_a_label_at_the_wrong_line_is_a_miss_and_the_finding_a_false_positive(tmp_path: Path) -> None:
    root = _tiny(tmp_path)
    expected = root / "sql-injection" / "expected.yaml"
    expected.write_text(
        expected.read_text().replace("line: 9\n    severity: critical", "line: 3\n    severity: critical")
    )
    code, out = _eval("--corpus", str(root), "--json")
    data = json.loads(out)
    assert code == 1
    assert data["overall"]["fn"] == 1 and data["overall"]["fp"] == 1
    assert data["overall"]["recall"] == 0.5
    case = next(c for c in data["per_case"] if c["name"] == "sql-injection")
    assert case["missed"] == [
        {"dimension": "Q", "rule": "S608", "file": "app/users.py", "line": 3, "severity": "critical"}
    ]
    assert "S608" in case["unexpected"][0]


def test_a_severity_floor_above_the_finding_is_a_miss(tmp_path: Path) -> None:
    root = _tiny(tmp_path)
    expected = root / "sql-injection" / "expected.yaml"
    expected.write_text(expected.read_text().replace("severity: minor", "severity: critical", 1))
    code, out = _eval("--corpus", str(root), "--json")
    assert code == 1
    by_severity = json.loads(out)["by_severity"]
    # The minor coverage finding, labelled critical now, is missed there and unexpected as minor.
    assert (by_severity["critical"]["tp"], by_severity["critical"]["fn"]) == (1, 1)
    assert by_severity["minor"]["fp"] == 1


def test_a_defect_labelled_clean_counts_as_a_flagged_clean_change(tmp_path: Path) -> None:
    root = _tiny(tmp_path)
    (root / "sql-injection" / "expected.yaml").write_text("description: mislabelled\nclean: true\n")
    code, out = _eval("--corpus", str(root), "--json")
    data = json.loads(out)
    assert code == 1
    assert data["clean"] == {"cases": 2, "flagged": 1, "false_positive_rate": 0.5}
    assert data["overall"]["precision"] == 0.0


def test_the_table_names_each_dimension_and_the_clean_rate(tmp_path: Path) -> None:
    code, out = _eval("--corpus", str(_tiny(tmp_path)))
    assert code == 0
    assert "precision  recall     f1" in out
    assert "dimension Q" in out and "dimension C" in out
    assert "clean changes: 0 of 1 with a finding above info" in out


def test_an_invalid_expected_file_is_named_without_a_traceback(tmp_path: Path) -> None:
    root = _tiny(tmp_path)
    (root / "clean-docs" / "expected.yaml").write_text("clean: true\nseverity_floor: major\n")
    code, out = _eval("--corpus", str(root))
    assert code == 1
    assert "clean-docs/expected.yaml" in out and "severity_floor" in out
    assert "Traceback" not in out


def test_the_model_reviewer_is_refused_as_a_usage_error(tmp_path: Path) -> None:
    code, out = _eval("--corpus", str(_tiny(tmp_path)), "--reviewer", "model")
    assert code == 2
    assert "static reviewer only" in out


def test_the_shipped_corpus_holds_for_the_static_reviewer() -> None:
    """The issue's must-hold: recall >= 0.95 on the defects, nothing above info on the clean changes."""
    code, out = _eval("--json")
    data = json.loads(out)
    assert data["cases"] >= 18
    assert sum(1 for c in data["per_case"] if c["clean"]) >= 6
    assert data["overall"]["recall"] >= 0.95
    assert data["clean"]["flagged"] == 0
    assert code == 0
