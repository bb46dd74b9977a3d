"""The gates: checks a task passes before it moves on, each a function returning a ``GateResult``.

    schema      the TaskCard is valid (front matter, criteria, its queue and personas exist)
    spec        spec and state agree: the card and the task's state file, the index, the lifecycle
                history, the card's folder, and the task branch for the task's status
    review      the latest review round approved the change by policy, at the commit the task
                branch holds now; or an open deviation covers the task (an override)
    governance  a member authorised to merge the task approved it; no violation on its trail is
                left unanswered; no deviation covering it has expired unresolved

``aios gate check`` runs them on demand (a CI step, a pre-push hook), ``aios policy check`` runs
the workspace-wide checks, and the merge (``runs.answer``) runs ``review`` and ``governance``
itself (``require_merge``), refusing when either fails.

A violation (a refused action, ``EventKind.VIOLATION``) is *answered* by a later event on the
task from a member with the authority to merge it (a move, a note, a decision naming the task, a
deviation covering it). At the merge, the approver is that member: approving answers the
violations recorded before it, and the trail says which.

The module lives in the workflow layer because the review gate reads the review's reports and the
governance gate the authority tables: only this layer may see both.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ValidationError

from orchestrator.errors import AiosError, PermissionDenied
from orchestrator.governance.authority import LEVEL_NAMES, audited, is_agent
from orchestrator.governance.matrix import Op, required_level
from orchestrator.review.policy import Verdict
from orchestrator.review.report import latest_report
from orchestrator.sandbox import git
from orchestrator.state import deviations, taskcard, tasks
from orchestrator.state.check import history_problems, index_problems
from orchestrator.state.deviations import Deviation, DeviationState
from orchestrator.state.lifecycle import Status
from orchestrator.state.records import Event, EventKind, TaskState
from orchestrator.state.store import Store
from orchestrator.state.stores import open_store
from orchestrator.state.workspace import Workspace


class Gate(StrEnum):
    SCHEMA = "schema"
    SPEC = "spec"
    REVIEW = "review"
    GOVERNANCE = "governance"


class GateResult(BaseModel):
    """One gate's outcome: ``ok``, and why (each failure, or what passed)."""

    gate: Gate
    ok: bool
    reasons: list[str]


class GateReport(BaseModel):
    """Every gate checked for one task; ``ok`` when all passed."""

    task: str
    ok: bool
    gates: list[GateResult]

    def failures(self) -> list[str]:
        """``gate: reason`` for each failed gate's reasons."""
        return [f"{g.gate.value}: {r}" for g in self.gates if not g.ok for r in g.reasons]


def check(
    ws: Workspace,
    tid: str,
    gates: Iterable[Gate] = tuple(Gate),
    *,
    approver: str | None = None,
    overrides: list[Deviation] | None = None,
    approving: bool = False,
) -> GateReport:
    """Run ``gates`` on task ``tid``.

    Args:
        approver: the member whose approval the governance gate checks; default: whoever merged the
            task (its move to ``done``), if it is merged.
        overrides: the deviations that may override a review the policy did not approve; default:
            every open deviation whose scope names the task.
        approving: ``approver`` is approving the merge now, which answers earlier violations.

    Raises:
        StateError: no such task.
    """
    task = tasks.get(ws, tid)
    run = {
        Gate.SCHEMA: lambda: schema(ws, task),
        Gate.SPEC: lambda: spec(ws, task),
        Gate.REVIEW: lambda: review(ws, task, overrides=overrides),
        Gate.GOVERNANCE: lambda: governance(ws, task, approver=approver, approving=approving),
    }
    results = [run[gate]() for gate in dict.fromkeys(gates)]
    return GateReport(task=tid, ok=all(r.ok for r in results), gates=results)


def require_merge(ws: Workspace, tid: str, *, approver: str, override: Deviation | None) -> GateReport:
    """The merge's own gates (review and governance), refused and audited when one fails.

    Raises:
        PermissionDenied: ``rule="gate"``, naming each failure.
    """
    report = check(
        ws, tid, (Gate.REVIEW, Gate.GOVERNANCE), approver=approver,
        overrides=[override] if override else [], approving=True,
    )  # fmt: skip
    if not report.ok:
        with audited(ws, actor=approver, what=f"merge {tid}", task_id=tid):
            raise PermissionDenied(
                f"{tid} may not be merged: " + "; ".join(report.failures()),
                rule="gate",
                fix=f"`aios gate check --task-id {tid}` shows each gate; fix what failed, then approve again",
            )
    return report


# ---- schema ----


def schema(ws: Workspace, task: TaskState) -> GateResult:
    """The task's TaskCard parses and its queue and personas exist."""
    try:
        card = taskcard.load(ws.root / task.card)
        tasks.check_card(ws, card, file=task.card)
    except AiosError as exc:
        return GateResult(gate=Gate.SCHEMA, ok=False, reasons=[exc.render()])
    return GateResult(gate=Gate.SCHEMA, ok=True, reasons=[f"{task.card} is a valid TaskCard"])


# ---- spec ----


def spec(ws: Workspace, task: TaskState) -> GateResult:
    """The card and the state agree, the history chains, the card and the branch are where they belong."""
    problems = _card_problems(ws, task)
    problems += [p.render() for p in history_problems(ws, task)]
    index = open_store(ws).read_index()
    problems += [p.render() for p in index_problems(ws, index, {task.id: task})]
    if task.status is not Status.DONE and task.id not in index.tasks:
        problems.append(f"{ws.rel(ws.index_file)}: {task.id} is {task.status.value} but not in the index: "
                        "`aios state rebuild` restores it")  # fmt: skip
    problems += _branch_problems(ws, task)
    if problems:
        return GateResult(gate=Gate.SPEC, ok=False, reasons=problems)
    return GateResult(
        gate=Gate.SPEC, ok=True, reasons=[f"card, state and branch agree ({task.status.value})"]
    )


def _card_problems(ws: Workspace, task: TaskState) -> list[str]:
    path = ws.root / task.card
    if not path.resolve().is_relative_to(ws.cards_dir.resolve()):
        return [f"{ws.rel(ws.task_file(task.id))}: card: {task.card} is outside {ws.rel(ws.cards_dir)}/"]
    try:
        card = taskcard.load(path)
    except AiosError as exc:
        return [f"the card does not parse (see the schema gate): {exc.message}"]
    said = {"id": task.id, "queue": task.queue, "role_mode": task.role_mode}
    found = {"id": card.id, "queue": card.queue, "role_mode": card.role_mode.value}
    return [
        f"{task.card}: {key} is {found[key]!r}, but {ws.rel(ws.task_file(task.id))} says {said[key]!r}: "
        "restore the card from git (a registered card's id, queue and role mode never change)"
        for key in said
        if said[key] != found[key]
    ]


#: Statuses in which the task branch must exist: a change was submitted for review.
_BRANCH_NEEDED = (Status.CODE_REVIEW, Status.REVIEWING)


def _branch_problems(ws: Workspace, task: TaskState) -> list[str]:
    branch = git.branch_name(task.id)
    exists = git.branch_exists(ws.root, branch)
    if task.status in _BRANCH_NEEDED and not exists:
        return [f"{task.id} is {task.status.value}, but its branch {branch} does not exist"]
    if task.status is Status.DONE and exists:
        target = _target(ws, task)
        if target is not None and not git.is_merged(ws.root, branch, target):
            return [f"{task.id} is done, but {branch} is not merged into {target}"]
    return []


def _target(ws: Workspace, task: TaskState) -> str | None:
    try:
        return tasks.target_branch(ws, taskcard.load(ws.root / task.card))
    except AiosError:
        return None


# ---- review ----


def review(ws: Workspace, task: TaskState, *, overrides: list[Deviation] | None = None) -> GateResult:
    """The latest round approved by policy at the branch's head, or an open deviation overriding it."""
    if overrides is None:
        overrides = [d for d in deviations.covering(ws, task.id) if d.state() is DeviationState.OPEN]
    try:
        report = latest_report(ws, task.id)
    except (ValidationError, ValueError, OSError) as exc:
        return _fail(Gate.REVIEW, f"the latest review report of {task.id} cannot be read: {exc}")
    branch = git.branch_name(task.id)
    if not git.branch_exists(ws.root, branch):
        return _fail(Gate.REVIEW, f"{branch} does not exist: nothing was reviewed to merge")
    head = git.head(ws.root, f"refs/heads/{branch}")
    if report is not None and report.head != head:
        moved = f"{branch} is at {head[:10]}, but round {report.round} reviewed {report.head[:10]}"
        return _fail(Gate.REVIEW, f"{moved}: `aios review submit {task.id}` reviews the new commits")
    if report is not None and report.verdict is Verdict.APPROVED:
        return GateResult(
            gate=Gate.REVIEW, ok=True, reasons=[f"round {report.round} APPROVED at {head[:10]}"]
        )
    verdict = f"round {report.round} {report.verdict.value}" if report else "no review round"
    if overrides:
        names = ", ".join(d.id for d in overrides)
        return GateResult(gate=Gate.REVIEW, ok=True, reasons=[f"{verdict}, overridden by deviation {names}"])
    return _fail(Gate.REVIEW, f"{verdict}: the policy did not approve {head[:10]} and no open deviation "
                 f"covers {task.id}")  # fmt: skip


# ---- governance ----


def governance(
    ws: Workspace, task: TaskState, *, approver: str | None, approving: bool = False
) -> GateResult:
    """An authorised member approved; no unanswered violation; no expired deviation covering it."""
    problems: list[str] = []
    approval = _approval(ws, task, approver, problems)
    open_ = [] if approving and approval else unanswered_violations(ws, task)
    problems += [f"violation #{n} unanswered: by {e.actor}: {e.reason}" for n, e in open_]
    problems += [
        f"deviation {d.id} expired at {d.expires_at} unresolved: `aios deviation resolve {d.id} --reason ...`"
        for d in deviations.covering(ws, task.id)
        if d.state() is DeviationState.EXPIRED
    ]
    if problems:
        return GateResult(gate=Gate.GOVERNANCE, ok=False, reasons=problems)
    return GateResult(gate=Gate.GOVERNANCE, ok=True, reasons=[approval or "approved"])


def _approval(ws: Workspace, task: TaskState, approver: str | None, problems: list[str]) -> str | None:
    """Who approves (or approved) the merge, if they may; else a problem is added and None returned."""
    if approver is None:
        merged = next((e for e in reversed(task.events) if e.to is Status.DONE and e.from_ is not e.to), None)
        if merged is None:
            problems.append(f"no member has approved merging {task.id} yet (`aios review approve {task.id}`)")
            return None
        approver = merged.actor
    need = required_level(Op.MERGE, task.queue)
    level = None if is_agent(approver) else ws.project.level(approver)
    if level is None or level > need:
        held = (
            LEVEL_NAMES[level]
            if level is not None
            else "not a member"
            if not is_agent(approver)
            else "an agent"
        )
        problems.append(
            f"{approver} ({held}) may not approve the merge: it needs an {LEVEL_NAMES[need]} or higher"
        )
        return None
    return f"approved by {approver} ({LEVEL_NAMES[level]})"


def unanswered_violations(ws: Workspace, task: TaskState) -> list[tuple[int, Event]]:
    """The task's violations (numbered as on its trail) with no later event from a member who may merge it."""
    need = required_level(Op.MERGE, task.queue)
    pending: list[tuple[int, Event]] = []
    for number, event in enumerate(task.events, 1):
        if event.kind is EventKind.VIOLATION:
            pending.append((number, event))
        elif pending and not is_agent(event.actor):
            level = ws.project.level(event.actor)
            if level is not None and level <= need:
                pending.clear()
    return pending


def _fail(gate: Gate, reason: str) -> GateResult:
    return GateResult(gate=gate, ok=False, reasons=[reason])


# ---- the whole workspace ----


def policy(ws: Workspace, *, all_tasks: bool = False) -> list[AiosError]:
    """``aios policy check``: every state file, TaskCard and record valid; no violation unanswered.

    Violations are checked on live tasks (every task with ``all_tasks``); a deviation expired
    unresolved is a problem wherever its scope lies.
    """
    from orchestrator.errors import StateError
    from orchestrator.state import decisions, proposals
    from orchestrator.state.check import check_state
    from orchestrator.workflow.overrides import check_overrides

    problems: list[AiosError] = [*check_state(ws), *check_overrides(ws)]
    problems += _card_file_problems(ws)
    problems += [*decisions.problems(ws), *proposals.problems(ws), *deviations.problems(ws)]
    for task in _tasks(ws):
        if all_tasks or task.status is not Status.DONE:
            for number, event in unanswered_violations(ws, task):
                problems.append(StateError(
                    f"violation #{number} by {event.actor} is unanswered: {event.reason}",
                    file=ws.rel(ws.audit_file(task.id)),
                    fix=f"a member who may merge {task.id} reviews it and answers on the trail, e.g. "
                    f'`aios decision new --task {task.id} --title "..."`',
                ))  # fmt: skip
    if not deviations.problems(ws):
        problems += [
            StateError(
                f"deviation {d.id} expired at {d.expires_at} and is unresolved",
                file=ws.rel(ws.deviations_dir),
                fix=f'`aios deviation resolve {d.id} --reason "..."` once the weekly review has looked at it',
            )
            for d in deviations.all_deviations(ws)
            if d.state() is DeviationState.EXPIRED
        ]
    return problems


def _card_file_problems(ws: Workspace) -> list[AiosError]:
    problems: list[AiosError] = []
    for path in sorted(ws.cards_dir.rglob("TASK_*.md")):
        try:
            tasks.check_card(ws, taskcard.load(path), file=ws.rel(path))
        except AiosError as exc:
            problems.append(exc)
    return problems


def _tasks(ws: Workspace) -> list[TaskState]:
    store, found = open_store(ws), []
    if not isinstance(store, Store):  # PostgreSQL: no task files to skip one by one
        return list(store.all_tasks())
    for path in sorted(ws.tasks_dir.glob("TASK_*.yaml")):
        try:
            found.append(store.read_task(path.stem))
        except AiosError:
            continue  # check_state reports it
    return found
