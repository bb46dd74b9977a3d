"""The gates (schema, spec, review, governance), ``aios policy check``, and the merge that runs them.

Each task here is reviewed by the static reviewer (evidence only, no model) on a tiny real
repository: a passing check is APPROVED, a check that cannot run is BLOCKED (an escalation).
"""

from __future__ import annotations

import json

import pytest
from helpers import CALC, MUL_CHECK, add_member, calc_change, write

from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance import actions, decisions
from orchestrator.governance import deviations as deviating
from orchestrator.governance.deviations import Override
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import deviations, tasks
from orchestrator.state.project import Level
from orchestrator.state.records import EventKind
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import gates, runs
from orchestrator.workflow.gates import Gate
from orchestrator.workflow.options import RunOptions

OPTIONS = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=bwrap_available())
BASE = CALC
CHANGE = calc_change()
PASSING = MUL_CHECK
CANNOT_RUN = "no-such-tool-aios-test --check"


def started(ws: Workspace, check: str = PASSING) -> str:
    """A started task whose change is committed on its branch; returns its id."""
    write(ws.root, BASE)
    git.commit_all(ws.root, "calc")
    criteria = [Criterion(id="AC1", text="mul multiplies", check=check)]
    card = TaskCard(id="TASK_DEV_0000", title="Add mul", queue="dev", acceptance_criteria=criteria)
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    write(git.ensure_worktree(ws.root, tid, "main"), CHANGE)
    git.commit_all(git.worktree_path(ws.root, tid), "Add mul")
    return tid


def reviewed(ws: Workspace, check: str = PASSING) -> str:
    tid = started(ws, check)
    runs.run(ws, tid, OPTIONS, actor="alice")
    return tid


def result(ws: Workspace, tid: str, gate: Gate, **kwargs: object) -> gates.GateResult:
    (found,) = gates.check(ws, tid, [gate], **kwargs).gates  # type: ignore[arg-type]
    return found


# ---- schema and spec ----


def test_schema_passes_a_valid_card_and_fails_a_broken_one(ws: Workspace) -> None:
    tid = started(ws)
    assert result(ws, tid, Gate.SCHEMA).ok
    card = ws.inbox_dir / f"{tid}.md"
    card.write_text(card.read_text().replace("priority: 3", "priority: 9"))
    failed = result(ws, tid, Gate.SCHEMA)
    assert not failed.ok and failed.reasons == [
        f"{ws.root}/tasks/inbox/{tid}.md:5: priority: Input should be less than or equal to 5\n"
        "  fix: use a number in range: le 5"
    ]


def test_spec_passes_when_card_state_and_branch_agree(ws: Workspace) -> None:
    tid = started(ws)
    assert result(ws, tid, Gate.SPEC).reasons == ["card, state and branch agree (running)"]


def test_spec_fails_a_card_whose_queue_was_changed(ws: Workspace) -> None:
    tid = started(ws)
    card = ws.inbox_dir / f"{tid}.md"
    card.write_text(card.read_text().replace("id: TASK_DEV_0001", "id: TASK_DEV_0042"))
    failed = result(ws, tid, Gate.SPEC)
    assert not failed.ok
    assert failed.reasons[0].startswith(
        f"tasks/inbox/{tid}.md: id is 'TASK_DEV_0042', but state/tasks/{tid}.yaml"
    )


def test_spec_fails_a_status_edited_by_hand_and_a_missing_branch(ws: Workspace) -> None:
    tid = started(ws)
    actions.transition(ws, tid, "finish", actor="alice")  # reviewing: its branch must exist
    git.remove_worktree(ws.root, tid, delete_branch=True)
    path = ws.task_file(tid)
    path.write_text(path.read_text().replace("status: reviewing", "status: done"))
    failed = result(ws, tid, Gate.SPEC)
    assert not failed.ok
    assert any("status is done, but its last event left it reviewing" in r for r in failed.reasons)


# ---- review ----


def test_review_passes_an_approved_round_at_the_branch_head(ws: Workspace) -> None:
    tid = reviewed(ws)
    passed = result(ws, tid, Gate.REVIEW)
    assert passed.ok and passed.reasons[0].startswith("round 1 APPROVED at ")


def test_review_fails_when_the_branch_moved_after_the_review(ws: Workspace) -> None:
    tid = reviewed(ws)
    write(git.worktree_path(ws.root, tid), {"src/extra.py": "X = 1\n"})
    git.commit_all(git.worktree_path(ws.root, tid), "unreviewed")
    failed = result(ws, tid, Gate.REVIEW)
    assert not failed.ok and "but round 1 reviewed" in failed.reasons[0]


def test_review_fails_a_blocked_round_unless_a_deviation_covers_the_task(ws: Workspace) -> None:
    tid = reviewed(ws, CANNOT_RUN)
    failed = result(ws, tid, Gate.REVIEW)
    assert not failed.ok and failed.reasons[0].startswith("round 1 BLOCKED: the policy did not approve")
    made = deviating.declare(ws, reason="tool missing on CI", actor="alice", expires="1d", task_ids=[tid])
    assert result(ws, tid, Gate.REVIEW).reasons == [f"round 1 BLOCKED, overridden by deviation {made.id}"]


# ---- governance ----


def test_governance_needs_an_authorised_approver(ws: Workspace) -> None:
    tid = reviewed(ws)
    assert result(ws, tid, Gate.GOVERNANCE).reasons == [
        f"no member has approved merging {tid} yet (`aios review approve {tid}`)"
    ]
    assert result(ws, tid, Gate.GOVERNANCE, approver="alice").ok
    failed = result(ws, tid, Gate.GOVERNANCE, approver="bob")
    assert failed.reasons == [
        "bob (L3 human operator) may not approve the merge: it needs an L2 project lead or higher"
    ]


def test_governance_fails_an_unanswered_violation_until_a_lead_answers(ws: Workspace) -> None:
    tid = reviewed(ws)
    with pytest.raises(PermissionDenied):
        actions.require(ws, actions.Op.MERGE, actor="bob", task_id=tid)
    failed = result(ws, tid, Gate.GOVERNANCE, approver="alice")
    assert not failed.ok and failed.reasons[0].startswith("violation #")
    actions.note(ws, tid, actor="bob", reason="an operator's note answers nothing")
    assert not result(ws, tid, Gate.GOVERNANCE, approver="alice").ok
    decisions.record(ws, title="bob may not merge; no harm done", task_ids=[tid], actor="alice")
    assert result(ws, tid, Gate.GOVERNANCE, approver="alice").ok


def test_governance_fails_an_expired_deviation_until_resolved(ws: Workspace) -> None:
    tid = reviewed(ws)
    made = deviations.new(ws, reason="old", by="alice", expires_at="2020-01-01T00:00:00Z", tasks=[tid])
    failed = result(ws, tid, Gate.GOVERNANCE, approver="alice")
    assert failed.reasons == [
        f"deviation {made.id} expired at 2020-01-01T00:00:00Z unresolved: "
        f"`aios deviation resolve {made.id} --reason ...`"
    ]
    deviating.resolve(ws, made.id, resolution="looked at it", actor="alice")
    assert result(ws, tid, Gate.GOVERNANCE, approver="alice").ok


# ---- the merge runs the gates ----


def test_a_merge_the_policy_approved_passes_its_gates_and_answers_earlier_violations(ws: Workspace) -> None:
    tid = reviewed(ws)
    with pytest.raises(PermissionDenied):
        runs.answer(ws, tid, "approve", actor="bob", options=OPTIONS)
    done = runs.answer(ws, tid, "approve", actor="alice", options=OPTIONS)
    assert done.status == "done"
    trail = ws.audit_file(tid).read_text()
    assert "merge approval by alice answers violation(s) #" in trail
    report = gates.check(ws, tid)  # afterwards, every gate holds on the merged task
    assert report.ok, report.failures()


def test_an_override_merge_without_a_deviation_is_refused_and_audited(ws: Workspace) -> None:
    tid = reviewed(ws, CANNOT_RUN)
    assert runs.status(ws, tid).waiting_for == "escalation"
    main = git.head(ws.root)
    with pytest.raises(PermissionDenied) as caught:
        runs.answer(ws, tid, "approve", actor="alice", options=OPTIONS)
    assert caught.value.rule == "deviation"
    assert caught.value.message == (
        f"{tid}'s review did not approve it (BLOCKED): merging it anyway overrides the review policy, "
        "which needs a deviation covering the task"
    )
    assert "--override-reason" in (caught.value.fix or "")
    last = tasks.get(ws, tid).events[-1]
    assert last.kind is EventKind.VIOLATION and (last.reason or "").startswith("refused (deviation)")
    assert git.head(ws.root) == main and runs.status(ws, tid).waiting_for == "escalation"


def test_an_override_merge_declares_a_deviation_and_the_trail_links_it(ws: Workspace) -> None:
    tid = reviewed(ws, CANNOT_RUN)
    done = runs.answer(ws, tid, "approve", actor="alice", options=OPTIONS,
                       override=Override(reason="the tool is missing on this machine only"))  # fmt: skip
    assert done.status == "done" and done.merged == git.head(ws.root, "refs/heads/main")
    (made,) = deviations.covering(ws, tid)
    assert made.reason == "the tool is missing on this machine only" and made.by == "alice"
    linked = [e.reason for e in tasks.get(ws, tid).events if e.kind is EventKind.DEVIATION]
    assert linked[0].startswith(f"deviation {made.id} declared, expires ")
    assert linked[1] == f"override merge approved under deviation {made.id} (review verdict BLOCKED)"


def test_an_override_merge_names_an_open_deviation_that_covers_the_task(ws: Workspace) -> None:
    tid = reviewed(ws, CANNOT_RUN)
    other = deviating.declare(ws, reason="elsewhere", actor="alice", expires="1d", paths=["docs/"])
    with pytest.raises(PermissionDenied, match=f"deviation {other.id} covers docs/, not {tid}"):
        runs.answer(ws, tid, "approve", actor="alice", options=OPTIONS, override=Override(deviation=other.id))
    expired = deviations.new(ws, reason="old", by="alice", expires_at="2020-01-01T00:00:00Z", tasks=[tid])
    with pytest.raises(PermissionDenied, match=f"deviation {expired.id} is expired"):
        runs.answer(
            ws, tid, "approve", actor="alice", options=OPTIONS, override=Override(deviation=expired.id)
        )
    deviating.resolve(ws, expired.id, resolution="replaced", actor="alice")
    add_member(ws, "lee", Level.LEAD)
    made = deviating.declare(ws, reason="accepted risk", actor="lee", expires="7d", task_ids=[tid])
    done = runs.answer(ws, tid, "approve", actor="lee", options=OPTIONS, override=Override(deviation=made.id))
    assert done.status == "done"
    assert f"override merge approved under deviation {made.id}" in ws.audit_file(tid).read_text()


def test_the_merge_refuses_when_a_gate_fails(ws: Workspace) -> None:
    tid = reviewed(ws)
    deviations.new(ws, reason="old", by="alice", expires_at="2020-01-01T00:00:00Z", tasks=[tid])
    with pytest.raises(PermissionDenied) as caught:
        runs.answer(ws, tid, "approve", actor="alice", options=OPTIONS)
    assert caught.value.rule == "gate"
    assert caught.value.message.startswith(f"{tid} may not be merged: governance: deviation DEV-0001 expired")
    assert tasks.get(ws, tid).status.value == "reviewing"


# ---- policy check ----


def test_policy_check_passes_a_clean_workspace_and_names_each_problem(ws: Workspace) -> None:
    tid = started(ws)
    assert gates.policy(ws) == []
    with pytest.raises(PermissionDenied):
        actions.require(ws, actions.Op.MERGE, actor="bob", task_id=tid)
    deviations.new(ws, reason="old", by="alice", expires_at="2020-01-01T00:00:00Z", tasks=[tid])
    (ws.inbox_dir / "TASK_DEV_0099.md").write_text("---\nid: TASK_DEV_0099\n---\n")
    rendered = [p.render() for p in gates.policy(ws)]
    assert any(r.startswith(f"{ws.root}/tasks/inbox/TASK_DEV_0099.md:") for r in rendered), rendered
    assert any(r.startswith(f"ops/audit/{tid}.md: violation #") for r in rendered), rendered
    assert any("deviation DEV-0001 expired at 2020-01-01T00:00:00Z and is unresolved" in r for r in rendered)


def test_gate_and_policy_commands_print_reports_and_exit_1_on_failure(ws: Workspace, cli) -> None:
    tid = reviewed(ws)
    done = cli("gate", "check", "--gate", "review", "--task-id", tid, "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert list(out) == ["ok", "tasks"] and list(out["tasks"][0]) == ["task", "ok", "gates"]
    assert out["tasks"][0]["gates"][0]["gate"] == "review" and out["ok"] is True
    failed = cli("gate", "check", "--task-id", tid)
    assert failed.exit_code == 1
    assert f"FAIL  {tid}  governance  no member has approved merging {tid} yet" in failed.stdout
    assert f"pass  {tid}  schema" in failed.stdout
    assert cli("policy", "check").exit_code == 0
    with pytest.raises(StateError):
        gates.check(ws, "TASK_DEV_0404")
