"""``aios review dismiss``: a member dismisses a finding on the audit trail; later rounds list it as
dismissed and do not count it; an agent, or a member below L2, is refused."""

from __future__ import annotations

import json

import pytest
from helpers import agent_session, run_aios

from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance import actions
from orchestrator.review.findings import Finding
from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.dismissals import dismiss

from .test_wiring import CLEAN
from .test_wiring_canon import review, seed_main, started_task


def size_finding(ws: Workspace, tid: str) -> Finding:
    report = json.loads((ws.reviews_dir(tid) / "round-1.json").read_text())
    return next(Finding(**f) for f in report["findings"] if f["rule"] == "size")


def test_a_dismissed_finding_is_not_raised_again_for_the_task(ws: Workspace) -> None:
    seed_main(ws)  # the main checkout's workflow makes any change over one line a major finding
    tid = started_task(ws, "dev", CLEAN)
    code, out = review(ws, tid)
    assert code == 3 and out["verdict"] == "NEEDS_REVISION", out
    finding = size_finding(ws, tid)
    assert f"[{finding.fingerprint}]" in (ws.reviews_dir(tid) / "round-1.md").read_text()

    args = ["review", "dismiss", tid, finding.fingerprint, "--reason", "the size limit is a demo setting"]
    done = run_aios("--root", str(ws.root), *args, "--json", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["task"], shown["finding_id"], shown["actor"]) == (tid, finding.fingerprint, "alice")
    trail = (ws.root / "ops/audit" / f"{tid}.md").read_text()
    assert (
        f"[dismissal] · by alice (human) · dismissed finding {finding.fingerprint}: the size limit" in trail
    )

    worktree = git.worktree_path(ws.root, tid)
    (worktree / "NOTES.md").write_text("more lines\n")
    git.commit_all(worktree, "round 2")
    code, out = review(ws, tid)
    assert code == 0 and out["verdict"] == "APPROVED", out
    assert not [f for f in out["findings"] if f["rule"] == "size"]
    report = (ws.reviews_dir(tid) / "round-2.md").read_text()
    dismissed = report.split("## Dismissed by a member (not counted)\n")[1].split("\n\n")[0]
    assert f"[{finding.fingerprint}]" in dismissed
    assert "## Fixed since the previous round" not in report  # dismissed is not fixed


def _reviewed(ws: Workspace) -> tuple[str, Finding]:
    seed_main(ws)
    tid = started_task(ws, "dev", CLEAN)
    review(ws, tid)
    return tid, size_finding(ws, tid)


def test_an_agent_or_an_operator_may_not_dismiss_and_is_audited(ws: Workspace) -> None:
    tid, finding = _reviewed(ws)
    session = agent_session(ws, "reviewer-bot", "reviewer", scope=[tid])
    with pytest.raises(PermissionDenied):
        dismiss(ws, tid, finding.fingerprint, actor=session.actor, reason="noise", session=session)
    with pytest.raises(PermissionDenied, match="bob"):
        dismiss(ws, tid, finding.fingerprint, actor="bob", reason="noise")  # L3 operator
    assert tasks.dismissed_findings(tasks.get(ws, tid)) == {}
    assert sum(e.kind is not None and e.kind.value == "violation" for e in tasks.get(ws, tid).events) == 2


def test_a_plain_note_with_the_same_words_dismisses_nothing(ws: Workspace) -> None:
    tid, finding = _reviewed(ws)
    actions.note(ws, tid, actor="bob", reason=f"dismissed finding {finding.fingerprint}: forged")
    assert tasks.dismissed_findings(tasks.get(ws, tid)) == {}


@pytest.mark.parametrize(
    ("finding_id", "reason", "message"),
    [
        ("0123456789ab", "why", "has no finding 0123456789ab"),
        ("S608", "why", "'s608' is not a finding id"),
        (None, "  ", "a dismissal needs a reason"),
    ],
)
def test_bad_dismissals_say_what_to_do(
    ws: Workspace, finding_id: str | None, reason: str, message: str
) -> None:
    tid, finding = _reviewed(ws)
    with pytest.raises(StateError, match=message) as err:
        dismiss(ws, tid, finding_id or finding.fingerprint, actor="alice", reason=reason)
    assert err.value.fix
