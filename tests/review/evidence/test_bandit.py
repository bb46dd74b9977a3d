"""Bandit beside ruff: the gaps of ruff's S rules covered, one finding per issue, ruff's settings
applied, bandit's rating mapped to a severity, and a report that cannot be read is an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review.diff import parse_diff
from orchestrator.review.evidence import EvidenceStatus, _bandit
from orchestrator.review.evidence.quality import collect_quality
from orchestrator.review.findings import Finding, Severity
from orchestrator.review.round import round_inputs
from orchestrator.review.settings import EvidenceSettings, RuffSettings
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.workflow.wiring import SandboxRunners

from ..sample import SampleRepo
from .fakes import ctx_for, fake

PINNED = "0123456789abcdef0123456789abcdef01234567"


def new_files_diff(files: dict[str, str]) -> str:
    parts = []
    for path, text in files.items():
        lines = text.splitlines()
        parts.append(
            f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{ln}\n" for ln in lines)
        )
    return "".join(parts)


def security(
    tmp_path: Path, files: dict[str, str], settings: EvidenceSettings | None = None
) -> list[Finding]:
    """The security (S) findings of ruff and bandit (real tools, unsandboxed) on ``files``, all new."""
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    ctx = ctx_for(tmp_path, parse_diff(new_files_diff(files)))
    if settings is not None:
        ctx = type(ctx)(tmp_path, ctx.diff, settings)
    results = [r for r in collect_quality(ctx, plain_runner(tmp_path, 60)) if r.name in ("ruff", "bandit")]
    assert all(r.status is not EvidenceStatus.ERROR for r in results), [r.reason for r in results]
    return [f for r in results for f in r.findings if (f.rule or "").startswith("S")]


def found(findings: list[Finding]) -> list[tuple[int | None, str | None, Severity, str | None]]:
    return sorted((f.line, f.rule, f.severity, f.source) for f in findings)


# ---------------------------------------------------------------- the gaps of ruff's S rules


def test_suspicious_imports_are_shown_as_info_at_their_lines(tmp_path: Path) -> None:
    code = (
        "import pickle\nimport subprocess\nimport telnetlib\nimport ftplib\n"
        "import xml.etree.ElementTree as ET\nfrom xml.sax import make_parser\n"
    )
    findings = security(tmp_path, {"app/io.py": code})
    assert [(line, rule, sev) for line, rule, sev, _ in found(findings)] == [
        (1, "S403", Severity.INFO),
        (2, "S404", Severity.INFO),
        (3, "S401", Severity.INFO),
        (4, "S402", Severity.INFO),
        (5, "S405", Severity.INFO),
        (6, "S406", Severity.INFO),
    ]
    assert all(f.source == "bandit" and "bandit B4" in f.message for f in findings)


def test_torch_load_without_weights_only_is_major_and_with_it_is_not_flagged(tmp_path: Path) -> None:
    code = (
        "import torch\n\n\ndef load(path):\n    return torch.load(path)\n\n\n"
        "def safe(path):\n    return torch.load(path, weights_only=True)\n"
    )
    assert found(security(tmp_path, {"app/model.py": code})) == [(5, "S614", Severity.MAJOR, "bandit")]


def test_unpinned_model_downloads_are_flagged_and_a_commit_hash_is_not(tmp_path: Path) -> None:
    code = (
        "from huggingface_hub import hf_hub_download\nfrom transformers import AutoModel\n\n"
        'a = AutoModel.from_pretrained("org/model")\n'
        'b = AutoModel.from_pretrained("org/model", revision="main")\n'
        f'c = AutoModel.from_pretrained("org/model", revision="{PINNED}")\n'
        'd = hf_hub_download(repo_id="org/model", filename="w.bin")\n'
        f'e = hf_hub_download(repo_id="org/model", filename="w.bin", revision="{PINNED}")\n'
    )
    findings = [f for f in security(tmp_path, {"app/hub.py": code}) if f.rule == "S615"]
    assert [(f.line, f.severity) for f in findings] == [
        (4, Severity.MAJOR),
        (5, Severity.MAJOR),
        (7, Severity.MAJOR),
    ]


def test_nosec_does_not_silence_bandit_while_noqa_is_not_honoured(tmp_path: Path) -> None:
    code = "import torch\n\n\ndef load(path):\n    return torch.load(path)  # nosec\n"
    assert [f.rule for f in security(tmp_path, {"app/m.py": code})] == ["S614"]
    honoured = EvidenceSettings.model_validate({"quality": {"ruff": {"honour_noqa": True}}})
    assert security(tmp_path / "h", {"app/m.py": code}, honoured) == []


# ---------------------------------------------------------------- one issue, one finding


def test_an_issue_both_tools_report_is_one_finding_ruffs(tmp_path: Path) -> None:
    code = (
        "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n\n\n"
        "def run(text):\n    return eval(text)\n"
    )
    assert found(security(tmp_path, {"app/c.py": code})) == [
        (1, "S403", Severity.INFO, "bandit"),  # bandit's alone
        (5, "S301", Severity.MAJOR, "ruff"),  # both: once, as ruff reported it
        (9, "S307", Severity.CRITICAL, "ruff"),
    ]


def test_a_finding_on_any_line_of_bandits_span_counts_as_reported() -> None:
    issue = _bandit.Issue("S608", "B608", "a.py", 3, 5, "MEDIUM", "LOW", "sql")
    assert _bandit.not_reported([issue], [("a.py", 4, "S608")]) == []
    assert _bandit.not_reported([issue], [("a.py", 4, "S307"), ("b.py", 3, "S608")]) == [issue]


def test_only_issues_on_changed_lines_count(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app/m.py").write_text("import torch\n\nx = torch.load('a')\ny = torch.load('b')\n")
    diff = parse_diff(
        "diff --git a/app/m.py b/app/m.py\n--- a/app/m.py\n+++ b/app/m.py\n"
        "@@ -3,0 +4 @@\n+y = torch.load('b')\n"
    )
    results = collect_quality(ctx_for(tmp_path, diff), plain_runner(tmp_path, 60))
    [bandit] = [r for r in results if r.name == "bandit"]
    assert [(f.line, f.rule) for f in bandit.findings] == [(4, "S614")]


# ---------------------------------------------------------------- precision rules hold for bandit too


def test_random_in_tests_is_not_flagged_by_either_tool_but_is_in_app_code(tmp_path: Path) -> None:
    code = "import random\n\nVALUE = random.random()\n"
    findings = security(tmp_path, {"tests/test_x.py": code, "app/x.py": code})
    assert [(f.file, f.line, f.rule) for f in findings] == [("app/x.py", 3, "S311")]


def test_ignored_rules_and_per_file_globs_match_as_ruffs() -> None:
    ruff = RuffSettings(ignore=["S101"])
    assert _bandit.ignored("S101", "app/x.py", ruff)  # ignore
    assert _bandit.ignored("S101", "tests/test_x.py", RuffSettings())  # asserts in tests
    assert not _bandit.ignored("S101", "app/x.py", RuffSettings())  # shown as info in app code
    assert _bandit.ignored("S311", "pkg/tests/deep/helpers.py", ruff)  # **/tests/**
    assert _bandit.ignored("S311", "test_x.py", ruff)  # **/ matches no folder too
    assert not _bandit.ignored("S311", "app/testing.py", ruff)
    assert not _bandit.ignored("S614", "tests/test_x.py", ruff)
    assert _bandit.glob_matches("*.py", "deep/down/x.py")  # no slash: the file name
    assert not _bandit.glob_matches("app/*.py", "app/sub/x.py")  # * stays in one folder


def test_bandit_off_leaves_ruff_alone(tmp_path: Path) -> None:
    off = EvidenceSettings.model_validate({"quality": {"bandit": {"enabled": False}}})
    code = "import torch\n\nx = torch.load('a')\n"
    assert security(tmp_path, {"app/m.py": code}, off) == []


# ---------------------------------------------------------------- severities


def issue(severity: str, confidence: str, rule: str = "S614") -> _bandit.Issue:
    return _bandit.Issue(rule, "B" + rule[1:], "a.py", 1, 1, severity, confidence, "m")


@pytest.mark.parametrize(
    ("rating", "rule", "expected"),
    [
        (("HIGH", "HIGH"), "S602", Severity.CRITICAL),  # as ruff's S602 is configured
        (("HIGH", "HIGH"), "S614", Severity.MAJOR),  # ruff's S default
        (("HIGH", "MEDIUM"), "S602", Severity.MAJOR),  # not certain: at most major
        (("MEDIUM", "HIGH"), "S608", Severity.MAJOR),
        (("LOW", "HIGH"), "S614", Severity.MINOR),  # low severity: at most minor
        (("HIGH", "LOW"), "S614", Severity.MINOR),  # low confidence: at most minor
        (("HIGH", "HIGH"), "S401", Severity.INFO),  # an import: the setting is a ceiling
    ],
)
def test_bandits_rating_caps_ruffs_severity_for_the_rule(
    rating: tuple[str, str], rule: str, expected: Severity
) -> None:
    assert _bandit.severity_of(issue(*rating, rule=rule), RuffSettings()) is expected


# ---------------------------------------------------------------- reading the report


def test_bandit_ids_take_ruffs_numbers_and_paths_are_repo_relative() -> None:
    report = (
        '{"results": [{"test_id": "B615", "filename": "./app/hub.py", "line_number": 4, '
        '"line_range": [4, 6], "issue_severity": "MEDIUM", "issue_confidence": "HIGH", "issue_text": "t"}]}'
    )
    [got], why = _bandit.parse_report(report, ["app/hub.py"])
    assert why is None
    assert (got.rule, got.test_id, got.file, got.line, got.end_line) == ("S615", "B615", "app/hub.py", 4, 6)


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (fake('{"results": [{"test_id": "B6'), "could not be read"),  # cut short
        (fake("{}"), "could not be read"),  # not bandit's shape
        (fake("", returncode=127, stderr="aios: command not found: 'bandit'"), "could not start `bandit`"),
        (fake("", returncode=None, timed_out=True), "timed out"),
    ],
)
def test_bandit_that_cannot_run_or_be_read_is_an_error(tmp_path: Path, run, reason: str) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app/x.py").write_text("import os\nx = 1\ny = 2\n")
    results = collect_quality(ctx_for(tmp_path), run)
    [bandit] = [r for r in results if r.name == "bandit"]
    assert bandit.status is EvidenceStatus.ERROR
    assert reason in (bandit.reason or "")


def test_a_symlinked_python_path_is_not_given_to_bandit(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real/.bandit").write_text("[bandit]\nskips: B614\n")
    (tmp_path / "app.py").symlink_to(tmp_path / "real")
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert _bandit.regular_files(tmp_path, ["app.py", "ok.py", "gone.py"]) == ["ok.py"]


def test_the_output_tail_never_copies_the_changes_source(tmp_path: Path) -> None:
    secret = "hunter2-not-a-real-password"
    code = f"import torch\n\nx = torch.load('a')  # {secret}\n"
    for path, text in {"app/m.py": code}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    ctx = ctx_for(tmp_path, parse_diff(new_files_diff({"app/m.py": code})))
    [bandit] = [r for r in collect_quality(ctx, plain_runner(tmp_path, 60)) if r.name == "bandit"]
    assert "B614" in bandit.output_tail and secret not in bandit.output_tail


@pytest.mark.parametrize("sandboxed", [pytest.param(True, id="sandbox"), pytest.param(False, id="plain")])
def test_bandit_runs_sandboxed_on_the_change_and_reports_outside_the_worktree(
    sample_repo: SampleRepo, sandboxed: bool
) -> None:
    if sandboxed and not bwrap_available():
        pytest.skip("bubblewrap cannot sandbox here")
    evals = "".join(f"v{i} = eval('{i}')\n" for i in range(200))
    code = f"import pickle\nimport torch\n\nmodel = torch.load('m.pt')\n{evals}"
    head = sample_repo.commit({"app/ml.py": code}, "a model loader")
    ctx = round_inputs(sample_repo.path, base=sample_repo.base, head=head).evidence
    run = SandboxRunners(sample_repo.path, True)(120) if sandboxed else plain_runner(sample_repo.path, 120)

    results = {r.name: r for r in collect_quality(ctx, run)}

    assert [(f.line, f.rule) for f in results["bandit"].findings] == [(1, "S403"), (4, "S614")]
    assert [f.rule for f in results["ruff"].findings].count("S307") == 200  # bandit's B307s: ruff's
    assert not list(sample_repo.path.rglob("bandit.json"))
