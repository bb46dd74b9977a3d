"""Q: ruff on the changed lines, secrets never echoed, and gitlinks or .git paths the change adds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.review.diff import parse_diff
from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.evidence.quality import ruff_check, secrets_check
from orchestrator.review.findings import Severity

from ..sample import ANTHROPIC_KEY, OPENAI_KEY
from .fakes import ctx_for, fake, ruff_line


def test_ruff_diagnostics_become_findings_on_changed_lines_only(tmp_path: Path) -> None:
    stdout = "\n".join([ruff_line("F401", 1), ruff_line("S608", 3), ruff_line("S608", 9)])
    result = ruff_check(ctx_for(tmp_path), fake(stdout))
    assert result.status is EvidenceStatus.FAILED
    assert [(f.file, f.line, f.rule, f.severity) for f in result.findings] == [
        ("app/x.py", 1, "F401", Severity.MINOR),
        ("app/x.py", 3, "S608", Severity.CRITICAL),
    ]
    assert "--isolated" in (result.command or []) and "--ignore-noqa" in (result.command or [])


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (fake('"code": "F401", "filename"}\n'), "could not be read"),  # the tail of a capped output
        (fake("", returncode=2, stderr="ruff: bad config"), "ruff exited with 2"),
        (fake("", returncode=127, stderr="aios: command not found: 'ruff'"), "could not start `ruff`"),
        (fake("", returncode=None, timed_out=True), "timed out"),
    ],
)
def test_ruff_that_cannot_run_or_be_read_is_an_error(tmp_path: Path, run, reason: str) -> None:
    result = ruff_check(ctx_for(tmp_path), run)
    assert result.status is EvidenceStatus.ERROR
    assert reason in (result.reason or "")
    assert result.findings == []


def test_secrets_never_reach_output_tails(tmp_path: Path) -> None:
    leaky = fake(json.dumps({"results": {}}) + f"\ndebug: key={OPENAI_KEY} other={ANTHROPIC_KEY}")
    result = secrets_check(ctx_for(tmp_path), leaky)
    assert result.status is EvidenceStatus.ERROR  # not JSON any more: never a silent pass
    assert OPENAI_KEY not in result.output_tail and ANTHROPIC_KEY not in result.output_tail
    assert "sk-proj-****" in result.output_tail and "sk-ant-api03-****" in result.output_tail


NESTED_DIFF = """\
diff --git a/lib b/lib
new file mode 160000
index 0000000..1111111
--- /dev/null
+++ b/lib
@@ -0,0 +1 @@
+Subproject commit 1111111111111111111111111111111111111111
diff --git a/old b/old
deleted file mode 160000
index 2222222..0000000
--- a/old
+++ /dev/null
@@ -1 +0,0 @@
-Subproject commit 2222222222222222222222222222222222222222
diff --git a/pkg/.GIT/config b/pkg/.GIT/config
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/pkg/.GIT/config
@@ -0,0 +1 @@
+[filter "pwn"]
diff --git a/app.py b/app.py
new file mode 100644
index 0000000..4444444
--- /dev/null
+++ b/app.py
@@ -0,0 +1 @@
+x = 1
"""


def test_a_gitlink_or_dot_git_path_added_by_the_change_is_a_critical_security_finding() -> None:
    from orchestrator.review.evidence.quality import nested_git_check
    from orchestrator.review.policy import decide

    diff = parse_diff(NESTED_DIFF)
    assert [fd.path for fd in diff.present()] == ["pkg/.GIT/config", "app.py"]  # a gitlink is no file
    [result] = nested_git_check(diff)
    assert [(f.file, f.severity.value, f.rule) for f in result.findings] == [
        ("lib", "critical", "nested-git"),
        ("pkg/.GIT/config", "critical", "nested-git"),
    ]
    assert "gitlink" in result.findings[0].message and "a .git path" in result.findings[1].message
    assert decide(result.findings, [result]).verdict.value == "NEEDS_REVISION"
    removed = "diff --git a/old" + NESTED_DIFF.split("diff --git a/old")[1].split("diff --git a/pkg")[0]
    assert nested_git_check(parse_diff(removed)) == []  # removing a gitlink is fine, and not reported
