"""``aios eval``: the JSON figures, the exit code, the matching logic on a tiny corpus, the shipped corpus."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.llm.base import Message
from orchestrator.llm.fake import FakeInfo, install_fake
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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reviewer", "model"], "--reviewer model needs a model: pass --model NAME or set AIOS_MODEL"),
        (["--reviewer", "persona"], "--reviewer is static or model, not 'persona'"),
        (["--record", "x.jsonl"], "--record records a model's calls: pass --model NAME"),
    ],
)
def test_a_model_reviewer_without_a_model_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.delenv("AIOS_MODEL")
    code, out = _eval("--corpus", str(_tiny(tmp_path)), *args)
    assert code == 2
    assert f"usage error: {message}" in out


def test_an_unknown_model_is_named_before_any_case_runs(tmp_path: Path) -> None:
    code, out = _eval("--corpus", str(_tiny(tmp_path)), "--model", "gpt-4o")
    assert code == 1
    assert "did you mean openai:gpt-4o?" in out and "Traceback" not in out


# ---- the model reviewer: a scripted model recorded once, then replayed offline

_DIMENSION = re.compile(r"\*\*[^*]+\*\* \(([QRCO])\)")
_ADDED = re.compile(r"^\s*(\d+) \+ (.*)$")


def _added_lines(prompt: str) -> list[tuple[str, int, str]]:
    """(file, new-side line, text) of each added line of the numbered change in ``prompt``."""
    out, file = [], ""
    for line in prompt.splitlines():
        if line.startswith("=== "):
            file = line[4:].split(" (", 1)[0]
        elif (m := _ADDED.match(line)) and file:
            out.append((file, int(m[1]), m[2]))
    return out


def scripted_reviewer(messages: list[Message], info: FakeInfo) -> dict[str, object]:
    """A deterministic persona model: one right finding, and the kinds of noise models make."""
    prompt = "\n".join(m.content or "" for m in messages if isinstance(m.content, str))
    dimension = _DIMENSION.search(prompt)[1]  # type: ignore[index]
    security = "You are the Security expert" in prompt
    added = _added_lines(prompt)
    findings: list[dict[str, object]] = []
    if security and dimension == "Q":
        findings += [
            {"severity": "critical", "file": f, "line": n, "message": "SQL built from user input"}
            for f, n, text in added
            if "SELECT" in text and "%" in text
        ]
        # Noise on a clean change: a major remark about a README line.
        findings += [
            {"severity": "major", "file": f, "line": n, "message": "the example may confuse readers"}
            for f, n, text in added
            if f == "README.md" and text.startswith("## ")
        ]
    if security and dimension == "O" and added:
        file = added[0][0]  # a line far outside the change: dropped as ungrounded
        findings.append({"severity": "major", "file": file, "line": 999, "message": "slow loop"})
    code_changed = any(f.startswith("app/") for f, _, _ in added)
    if not security and dimension == "C" and code_changed:
        # Contradicted where the change's tests changed and pass: dropped.
        findings.append({"severity": "major", "message": "the change has no tests"})
    if not security and dimension == "R" and code_changed:
        # Unplaced: capped at minor however severe the model says it is.
        findings.append({"severity": "critical", "message": "the change may not do what the task asks"})
    return {"findings": findings}


def test_the_model_reviewer_is_scored_like_the_static_one_from_a_replayed_recording(tmp_path: Path) -> None:
    root, recording = _tiny(tmp_path), tmp_path / "eval.jsonl"
    with install_fake(scripted_reviewer):
        code, recorded = _eval("--corpus", str(root), "--model", "fake", "--record", str(recording), "--json")
    assert code == 1, recorded
    assert len(recording.read_text().splitlines()) == 16  # 2 cases x 4 dimensions x 2 personas

    # Offline, no fake installed: the recording alone answers.
    code, out = _eval("--corpus", str(root), "--model", f"replay:{recording}", "--json")
    data = json.loads(out)
    assert code == 1
    assert data == {**json.loads(recorded), "model": f"replay:{recording}"}
    assert data["reviewer"] == "model"
    # The model's SQL finding agrees with the evidence's S608 at app/users.py:9: found, not noise.
    assert data["overall"] == {"tp": 2, "fp": 2, "fn": 0, "precision": 0.5, "recall": 1.0, "f1": 0.667}
    assert data["by_severity"]["major"] == {
        "tp": 0, "fp": 1, "fn": 0, "precision": 0.0, "recall": 1.0, "f1": 0.0
    }  # fmt: skip
    assert data["clean"] == {"cases": 1, "flagged": 1, "false_positive_rate": 1.0}
    assert data["dropped"] == {"ungrounded": 2, "contradicted": 1}
    assert data["usage"]["calls"] == 16
    sql = next(c for c in data["per_case"] if c["name"] == "sql-injection")
    assert sql["unexpected"] == ["minor R the change: the change may not do what the task asks"]
    docs = next(c for c in data["per_case"] if c["name"] == "clean-docs")
    assert docs["unexpected"] == ["major Q README.md:5: the example may confuse readers"]


def test_the_model_table_names_the_model_and_what_was_dropped(tmp_path: Path) -> None:
    root, recording = _tiny(tmp_path), tmp_path / "eval.jsonl"
    with install_fake(scripted_reviewer):
        _eval("--corpus", str(root), "--model", "fake", "--record", str(recording))
    code, out = _eval("--corpus", str(root), "--reviewer", "model", "--model", f"replay:{recording}")
    assert code == 1
    assert out.startswith(f"model reviewer (replay:{recording}) on 2 cases\n")
    assert "  model findings dropped: 2 outside the change, 1 contradicted by evidence; 16 model calls" in out
    assert "  unexpected clean-docs: major Q README.md:5: the example may confuse readers" in out
    assert "clean changes: 1 of 1 with a finding above info (false-positive rate 1.000)" in out


def test_the_shipped_corpus_holds_for_the_static_reviewer() -> None:
    """The issue's must-hold: recall >= 0.95 on the defects, nothing above info on the clean changes."""
    code, out = _eval("--json")
    data = json.loads(out)
    assert data["cases"] >= 18
    assert sum(1 for c in data["per_case"] if c["clean"]) >= 6
    assert data["overall"]["recall"] >= 0.95
    assert data["clean"]["flagged"] == 0
    assert code == 0
