"""The real work behind the graph's nodes: the builder agent, evidence plus persona checks, the verdict.

``make_context`` wires them into a ``RunContext`` for one run; tests replace single callables.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import resources
from orchestrator._files import read_text
from orchestrator.errors import ConfigError
from orchestrator.governance import actions
from orchestrator.governance.guard import RunGuard
from orchestrator.review import round as review_round
from orchestrator.review.diff import render_numbered
from orchestrator.review.evidence import support_paths
from orchestrator.review.findings import Dimension, Severity
from orchestrator.review.report import RoundReport, write_report
from orchestrator.review.reviewer import Panel, build_panel
from orchestrator.review.round import CheckResult
from orchestrator.sandbox import environment, git
from orchestrator.sandbox.bwrap import CommandResult, Limits, run_command, writable_by_sandbox
from orchestrator.sandbox.environment import ProjectEnvironment, pytest_variables
from orchestrator.state import tasks
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import TaskCard, render
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.checkpoint import ReviewState, load_findings
from orchestrator.workflow.context import BUILDER, REVIEWER, RUN_ACTORS, RunContext
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.settings import WorkflowSettings, load_workflow


class Models:
    """The run's models, one per role, built on first use and sharing the task's meter and budget."""

    def __init__(
        self,
        ws: Workspace,
        card: TaskCard,
        workflow: WorkflowSettings,
        *,
        cli: str | None,
        base_url: str | None,
        record: Path | None,
    ) -> None:
        from orchestrator.llm import UsageMeter

        self.ws, self.card, self.workflow = ws, card, workflow
        # AIOS_MODEL sits just below --model: one switch for a whole shell session (or a test run).
        self.cli, self.base_url, self.record = cli or os.environ.get("AIOS_MODEL"), base_url, record
        self.meter = UsageMeter.from_dict(_load_usage(ws, card.id))
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self.guard: RunGuard | None = None
        """Asked before every model call, so a stopped run makes none (set by ``make_context``)."""

    def save_usage(self) -> None:
        """Keep the task's usage beside its reports; the parallel checks call this at once."""
        with self._save_lock:  # so an older snapshot never lands after a newer one
            _save_usage(self.ws, self.card.id, self.meter)

    def for_role(self, role: str) -> Any:
        from orchestrator.llm import choose_model, get_model

        spec = choose_model(role, cli=self.cli, card=self.card.models, workflow=self.workflow.models)
        with self._lock:
            if spec not in self._models:
                budget = self.workflow.budget.model_dump(exclude_none=True) or None
                self._models[spec] = get_model(
                    spec,
                    base_url=self.base_url,
                    record=self.record,
                    workspace=self.ws.root,
                    meter=self.meter,
                    budget=budget,
                )
            model = self._models[spec]
        return model if self.guard is None else GuardedModel(model, self.guard)


class GuardedModel:
    """A model that asks the run guard before each call: a stopped run makes no more model calls.

    Everything but ``complete`` and ``structured`` is the model's own (``spec``, ``meter`` ...).
    """

    def __init__(self, model: Any, guard: RunGuard) -> None:
        self._model, self._guard = model, guard

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        self._guard.check(f"call {self._model.spec}")
        return self._model.complete(*args, **kwargs)

    def structured(self, *args: Any, **kwargs: Any) -> Any:
        self._guard.check(f"call {self._model.spec}")
        return self._model.structured(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def make_context(
    ws: Workspace,
    card: TaskCard,
    options: RunOptions,
    *,
    progress: Callable[[str], None] | None = None,
    check_models: bool = False,
    sessions: dict[str, Session] | None = None,
    guard: RunGuard | None = None,
) -> RunContext:
    """A ``RunContext`` with the real builder, checks and aggregation, as ``options`` choose.

    ``guard`` (begun for the task now when None) stops the run, and its model calls, when a
    person stopped it.
    """
    workflow = load_workflow(workspace=ws.root)
    models = Models(ws, card, workflow, cli=options.model, base_url=options.base_url, record=options.record)
    guard = guard or RunGuard.begin(ws, card.id, own=RUN_ACTORS)
    agent, reviewer_mode, sandbox = options.builder == "agent", options.reviewer, options.sandbox
    if check_models:
        # Build every model the run will call now: a missing key or unknown model is a clear
        # error before anything runs, not an escalation halfway through a round.
        roles = (["builder"] if agent else []) + (
            persona_names(card, workflow) if reviewer_mode == "model" else []
        )
        for role in roles:
            models.for_role(role)
    ctx = RunContext(
        ws=ws,
        card=card,
        workflow=workflow,
        builder=_agent_builder(models, sandbox) if agent else _external_builder,
        check=_checker(models if reviewer_mode == "model" else None, sandbox),
        aggregate=_aggregator(models, reviewer_mode),
        external=not agent,
        sessions=sessions or {},
        guard=guard,
    )
    models.guard = guard  # after the models were built to check them: only calls are guarded
    guard.watch(ctx.sessions.values())
    if progress is not None:  # else RunContext's silent default
        ctx.progress = progress
    return ctx


def persona_names(card: TaskCard, workflow: WorkflowSettings) -> list[str]:
    """The reviewer personas of a task: its card's, else the workflow's default set."""
    return list(card.personas or workflow.personas.default)


# ---- builder ----


def _agent_builder(models: Models, sandbox: bool) -> Any:
    def build(ctx: RunContext, state: ReviewState) -> str:
        from orchestrator.governance.matrix import Op
        from orchestrator.workflow.builder import run_builder

        # The task's role mode decides: an architect's or planner's task is not built by an agent.
        actions.require(
            ctx.ws, Op.WRITE_CODE, actor=BUILDER, session=ctx.session_of(BUILDER), task_id=ctx.card.id
        )
        result = run_builder(
            models.for_role("builder"),
            ctx.card,
            worktree=git.worktree_path(ctx.ws.root, ctx.card.id),
            feedback=state.get("feedback") or None,
            round=state["round"],
            settings=ctx.workflow.builder,
            prompt_text=_prompt(ctx, "builder.md"),
            sandbox=sandbox,
            environment=project_environment(ctx.ws.root, ctx.workflow),
            variables=project_variables(ctx.ws.root, ctx.workflow),
            before_tool=lambda: ctx.go_on("run the builder's next tool call"),
        )
        models.save_usage()
        _revert_out_of_scope(ctx)
        return result.summary or f"builder stopped: {result.stopped_reason}"

    return build


def _prompt(ctx: RunContext, name: str) -> str:
    """A prompt template: the workspace's own ``prompts/<name>``, else the shipped one."""
    return read_text(resources.data_file("prompts", name, workspace=ctx.ws.root), error=ConfigError)


def _external_builder(ctx: RunContext, state: ReviewState) -> None:
    """A person or another agent committed on the task branch: the round reviews the branch's head.

    Where they commit in a checkout of their own, the task's worktree is a detached copy of the
    branch (`git.ensure_worktree`), moved here to the head they submitted.
    """
    git.ensure_worktree(ctx.ws.root, ctx.card.id, tasks.target_branch(ctx.ws, ctx.card))
    return None


def _revert_out_of_scope(ctx: RunContext) -> None:
    """Files a check command wrote outside the TaskCard's paths are not the builder's to commit.

    Raises:
        git.NestedRepository: a check wrote a `.git` entry; the graph's builder node removes it
            and blocks the round as a security finding.
    """
    from orchestrator.workflow.builder import in_scope

    worktree = git.worktree_path(ctx.ws.root, ctx.card.id)
    git.refuse_nested_git(worktree)  # a security finding, not a stray file to discard quietly
    stray = [rel for rel in git.uncommitted(worktree) if not in_scope(rel, ctx.card.paths)]
    if stray:
        git.discard(worktree, stray)
        actions.note(
            ctx.ws,
            ctx.card.id,
            actor=BUILDER,
            session=ctx.session_of(BUILDER),
            reason=f"changes outside the task's paths were discarded: {', '.join(stray[:20])}",
        )


# ---- checks ----


def _checker(models: Models | None, sandbox: bool) -> Any:
    def check(ctx: RunContext, state: ReviewState, dimension: Dimension) -> CheckResult:
        inputs = _round_inputs(ctx, state)
        runners = SandboxRunners(
            inputs.evidence.worktree,
            sandbox,
            limits=ctx.workflow.builder.limits,
            environment=project_environment(ctx.ws.root, ctx.workflow),
            variables=project_variables(ctx.ws.root, ctx.workflow),
        )
        result = review_round.check(dimension, inputs, runners, panel=_panel(ctx, models) if models else None)
        if models is not None:
            models.save_usage()
        return result

    return check


def _round_inputs(ctx: RunContext, state: ReviewState) -> review_round.RoundInputs:
    """The round's inputs (the diff, the delta since the last review, the card) from the graph state."""
    task = tasks.get(ctx.ws, ctx.card.id)  # the store's record: where the card lives, its queue
    return review_round.round_inputs(
        git.worktree_path(ctx.ws.root, ctx.card.id),
        base=state["base"],
        head=state["head"],
        settings=ctx.workflow,
        criteria=ctx.card.acceptance_criteria,
        card_text=render(ctx.card),
        since=state.get("last_reviewed") if state["round"] > 1 else None,
        previous=load_findings(state.get("findings")),
        card_path=task.card,
        queue=task.queue,
        dismissed=tasks.dismissed_findings(task),
        baseline_dir=ctx.ws.baseline_dir,  # the workspace's, not the worktree's
    )


def _panel(ctx: RunContext, models: Models) -> Panel:
    """The task's personas, each with its model, and the prompt they answer."""
    return build_panel(
        persona_names(ctx.card, ctx.workflow),
        models.for_role,
        card=render(ctx.card),
        near_lines=ctx.workflow.policy.grounding_near_lines,
        workspace=ctx.ws.root,
    )


class SandboxRunners:
    """Evidence commands in the task's sandbox (a `ProjectRunners`): aios's own tools when called,
    the project's commands (tests, acceptance checks) in its Python environment through ``project``.

    Each runner has its dimension's time limit and ``limits``' other limits (processes, memory,
    disk ...; the defaults when None), and may write reports into a folder outside the worktree
    (``reports``, a `ReportingRunner`), removed when this object goes.

    ``variables`` go to the project's commands only (`project_variables`); None: the rule of
    `environment.pytest_variables` for ``environment`` (a pytest of aios's standing in for the
    project's loads none of aios's plugins).
    """

    def __init__(
        self,
        worktree: Path,
        sandbox: bool,
        *,
        limits: Limits | None = None,
        environment: ProjectEnvironment | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.worktree, self.sandbox, self.environment = worktree, sandbox, environment
        self.variables = dict(pytest_variables(environment) if variables is None else variables)
        self.base = limits or Limits()
        self.read_only = [*support_paths(), Path(git.toplevel(worktree)).resolve()]
        self.reports = Path(tempfile.mkdtemp(prefix="aios-reports-"))
        if sandbox:
            writable_by_sandbox(self.reports)
        weakref.finalize(self, shutil.rmtree, self.reports, True)

    def __call__(self, timeout_s: float) -> _SandboxRunner:
        return _SandboxRunner(self, self.base.model_copy(update={"timeout_s": timeout_s}), None)

    def at(self, worktree: Path) -> SandboxRunners:
        """The same runners in another folder (a `RelocatableRunners`: the checks' view of the change)."""
        return SandboxRunners(
            worktree, self.sandbox, limits=self.base, environment=self.environment, variables=self.variables
        )

    def project(self, timeout_s: float) -> _SandboxRunner:
        limits = self.base.model_copy(update={"timeout_s": timeout_s})
        return _SandboxRunner(self, limits, self.environment, self.variables)


@dataclass(frozen=True)
class _SandboxRunner:
    """One ``Runner`` of `SandboxRunners`: its limits, its environment, the reports folder."""

    owner: SandboxRunners
    limits: Limits
    environment: ProjectEnvironment | None
    variables: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables (the project's commands': `project_variables`)."""

    @property
    def reports(self) -> Path:
        return self.owner.reports

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        return run_command(
            argv,
            worktree=self.owner.worktree,
            limits=self.limits,
            sandbox=self.owner.sandbox,
            read_only_paths=self.owner.read_only,
            environment=self.environment,
            writable_paths=[self.reports],
            env=self.variables,
        )


def project_environment(root: Path, workflow: WorkflowSettings) -> ProjectEnvironment | None:
    """The reviewed project's Python environment (None: aios's own), found from the workspace
    root since an untracked venv lives only in the main checkout, never in a task's worktree."""
    return environment.resolve(root, python=workflow.evidence.completeness.tests.python)


def project_variables(root: Path, workflow: WorkflowSettings) -> dict[str, str]:
    """Environment variables for the project's commands: when the pytest they get is aios's own,
    standing in for the project's, it loads none of aios's plugins (`environment.pytest_variables`)."""
    python = workflow.evidence.completeness.tests.python
    shares = environment.shares_aios(root, python=python)
    return pytest_variables(project_environment(root, workflow), shares=shares)


# ---- verdict ----


def _aggregator(models: Models, reviewer_mode: str) -> Any:
    def aggregate(ctx: RunContext, state: ReviewState, results: list[CheckResult]) -> dict[str, Any]:
        inputs = _round_inputs(ctx, state)
        outcome = review_round.conclude(inputs, results, ctx.workflow.policy)
        report = RoundReport(
            **dict(outcome),
            task=ctx.card.id,
            round=state["round"],
            reviewer=reviewer_mode,
            usage=round_usage(models.meter.to_dict()["total"], state.get("usage_total") or {}),
        )
        artifacts = write_report(ctx.ws, report)
        _keep_found_secrets(ctx, inputs)
        actions.note(
            ctx.ws,
            ctx.card.id,
            actor=REVIEWER,
            session=ctx.session_of(REVIEWER),
            reason=f"review round {state['round']}: {report.verdict.value}",
            artifacts=artifacts,
        )
        return {
            "verdict": report.verdict.value,
            "usage": report.usage,
            "usage_total": models.meter.to_dict()["total"],
            "reasons": report.reasons,  # masked, like every text of the report
            "report": artifacts[0],
            "findings": report.findings,
            "feedback": [
                f"[{f.severity.value}] {f.summary(suggestion=True)}"
                for f in report.findings
                if f.severity.at_least(Severity.MINOR)
            ],
        }

    return aggregate


def _keep_found_secrets(ctx: RunContext, inputs: review_round.RoundInputs) -> None:
    """Hashes of the secrets found in this change, so a later process masks them too (no values)."""
    from orchestrator import redact

    text = render_numbered(inputs.diff)
    values = [v for v in redact.found() if v in text]
    if values:
        redact.save_hashes(ctx.ws.secret_hashes_file(ctx.card.id), values)


def round_usage(total: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """What this round used: the task's totals now minus the totals at the last round's end."""
    keys = ("calls", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")
    return {k: round(total.get(k, 0) - before.get(k, 0), 6) for k in keys}


# ---- usage kept with the task ----


def _load_usage(ws: Workspace, tid: str) -> dict[str, Any]:
    try:
        return json.loads(ws.usage_file(tid).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _save_usage(ws: Workspace, tid: str, meter: Any) -> None:
    from orchestrator._files import atomic_write

    path = ws.usage_file(tid)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(meter.to_dict(), indent=2) + "\n")
