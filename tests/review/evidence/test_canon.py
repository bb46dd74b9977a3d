"""governance-canon: a change to the files that govern aios is critical, except in the governance queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.review.diff import parse_diff
from orchestrator.review.evidence import EvidenceStatus
from orchestrator.review.evidence.canon import CANON_FOLDERS, GOVERNANCE_CANON, canon_check, is_canon
from orchestrator.review.evidence.quality import collect_quality
from orchestrator.review.findings import Severity

from .fakes import ctx_for, fake

CARD = "tasks/inbox/TASK_DEV_0001.md"


def modified(path: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"


def added(path: str) -> str:
    head = f"diff --git a/{path} b/{path}\nnew file mode 100644\n"
    return head + f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+a\n"


def deleted(path: str) -> str:
    head = f"diff --git a/{path} b/{path}\ndeleted file mode 100644\n"
    return head + f"--- a/{path}\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n"


def renamed(old: str, new: str) -> str:
    return f"diff --git a/{old} b/{new}\nsimilarity index 100%\nrename from {old}\nrename to {new}\n"


def mode_change(path: str) -> str:
    return f"diff --git a/{path} b/{path}\nold mode 100644\nnew mode 100755\n"


def check(tmp_path: Path, *blocks: str, queue: str | None = "dev", card_path: str | None = CARD):
    ctx = ctx_for(tmp_path, parse_diff("".join(blocks)), card_path=card_path, queue=queue)
    return canon_check(ctx)


@pytest.mark.parametrize("folder", CANON_FOLDERS)
@pytest.mark.parametrize("change", [modified, added, deleted, mode_change])
def test_every_kind_of_change_to_every_canon_folder_is_critical(tmp_path: Path, folder: str, change) -> None:
    path = f"{folder}sub/file.yaml"
    [result] = check(tmp_path, change(path), modified("src/app.py"))
    assert (result.name, result.status) == (GOVERNANCE_CANON, EvidenceStatus.FAILED)
    assert [(f.file, f.severity, f.rule) for f in result.findings] == [
        (path, Severity.CRITICAL, GOVERNANCE_CANON)
    ]
    assert result.reason == f"the change touches governance files outside the governance queue: {path}"


def test_the_tasks_own_card_is_canon_and_each_path_is_named(tmp_path: Path) -> None:
    [result] = check(
        tmp_path, modified("personas/x.md"), modified(CARD), modified("workflows/pair_programming.yaml")
    )
    assert [f.file for f in result.findings] == ["personas/x.md", CARD, "workflows/pair_programming.yaml"]
    assert result.reason is not None
    assert result.reason.endswith(f"personas/x.md, {CARD}, workflows/pair_programming.yaml")
    assert "modifies workflows/pair_programming.yaml" in result.findings[2].message


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("src/policy.yaml", "workflows/pair_programming.yaml", "workflows/pair_programming.yaml"),  # in
        ("personas/security_expert.yaml", "docs/old.yaml", "personas/security_expert.yaml"),  # out
        ("prompts/review.md", "prompts/review2.md", "prompts/review.md, prompts/review2.md"),  # within
    ],
)
def test_a_rename_counts_when_either_path_is_canon(tmp_path: Path, old: str, new: str, named: str) -> None:
    [result] = check(tmp_path, renamed(old, new))
    [finding] = result.findings
    assert (finding.file, finding.severity) == (new, Severity.CRITICAL)
    assert f"renames {old} to {new}" in finding.message
    assert result.reason is not None and result.reason.endswith(named)


@pytest.mark.parametrize(
    "path",
    [
        "Workflows/pair_programming.yaml",  # the same folder on a case-insensitive file system
        "STATE/tasks.yaml",
        "workflows",  # the folder itself replaced (by a symlink, say)
        ".aios/worktrees/TASK_DEV_0002/x.py",
        "./ops/audit/TASK_DEV_0001.md",
        "Tasks/Inbox/task_dev_0001.md",
    ],
)
def test_spellings_of_canon_paths_are_canon(path: str) -> None:
    assert is_canon(path, card_path=CARD)


@pytest.mark.parametrize(
    "path", ["src/state.py", "docs/workflows/guide.md", "mystate/x", "ops.py", "personas.md", ".aiosrc"]
)
def test_other_paths_are_not_canon(tmp_path: Path, path: str) -> None:
    assert not is_canon(path, card_path=CARD)
    assert check(tmp_path, modified(path)) == []  # ordinary reviews list no such check


def test_another_tasks_card_is_not_this_tasks_canon(tmp_path: Path) -> None:
    assert check(tmp_path, modified("tasks/inbox/TASK_DEV_0002.md")) == []
    assert check(tmp_path, modified(CARD), card_path=None) == []


def test_in_the_governance_queue_the_same_touches_are_info_and_pass(tmp_path: Path) -> None:
    [result] = check(
        tmp_path,
        modified("personas/x.md"),
        renamed("workflows/a.yaml", "workflows/b.yaml"),
        queue="governance",
    )
    assert result.status is EvidenceStatus.PASSED
    assert [(f.file, f.severity) for f in result.findings] == [
        ("personas/x.md", Severity.INFO),
        ("workflows/b.yaml", Severity.INFO),
    ]
    assert all("needs an L1 or L0 member to merge" in f.message for f in result.findings)
    assert result.reason == (
        "governance change: needs an L1 or L0 member to merge "
        "(personas/x.md, workflows/a.yaml, workflows/b.yaml)"
    )


def test_quality_collects_it_before_any_model(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, parse_diff(modified("personas/x.md")), queue="dev")
    results = collect_quality(ctx, fake(json.dumps({"results": {}})))
    canon = [r for r in results if r.name == GOVERNANCE_CANON]
    assert [(r.status, [f.file for f in r.findings]) for r in canon] == [
        (EvidenceStatus.FAILED, ["personas/x.md"])
    ]


def test_a_context_without_a_queue_is_treated_as_an_ordinary_task(tmp_path: Path) -> None:
    """No queue (a bare ``review_static`` call) must not read as the governance queue."""
    [result] = check(tmp_path, modified("workflows/x.yaml"), queue=None, card_path=None)
    assert result.status is EvidenceStatus.FAILED
