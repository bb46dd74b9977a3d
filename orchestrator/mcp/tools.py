"""The tools: each a thin shell over the service the matching CLI command calls.

Arguments are named as the CLI's flags (``name``, ``agent_id``, ``role_mode``, ``task_scope``,
``task_id``); every tool after ``session_create`` takes ``session_token``. Each one looks the
session up, calls the service with the session's actor, and returns the CLI's ``--json`` keys.
No tool decides who may: the services' ``authority.decide`` refuses, audited, with the rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import PermissionDenied
from orchestrator.governance.matrix import Op
from orchestrator.mcp._shell import Shell, as_tool_errors
from orchestrator.mcp.models import (
    AgentRequested,
    GovernanceCheck,
    ReviewReply,
    ReviewReport,
    SessionEnded,
    SessionOpened,
    TaskCreated,
    TaskMoved,
)
from orchestrator.state.taskcard import RoleMode
from orchestrator.workflow.status import RunStatus

Token = Annotated[str, Field(description="The token session_create returned (never logged or stored).")]
TaskId = Annotated[str, Field(description="Task id, e.g. TASK_DEV_0001.")]
Ttl = Annotated[str, Field(description="How long the session lives: 30m, 8h, 2d.")]
Scope = Annotated[list[str], Field(description="The task ids the session may work on.")]
AgentKey = Annotated[
    str,
    Field(
        description="The agent key agent_register returned (or a member's `aios agent key` printed); "
        "never logged or stored."
    ),
]
VIA = "MCP"


class CriterionArg(BaseModel):
    """One acceptance criterion of a new TaskCard (``aios task new --criterion ... --check ...``)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    check: str | None = None
    """A command whose exit status proves it, e.g. ``pytest -q tests/test_x.py``."""


class Tools:
    """The tool functions, bound to one server's ``Shell``; ``server.register`` adds each method."""

    NAMES = (
        "agent_register",
        "session_create",
        "session_terminate",
        "task_list",
        "task_status",
        "task_start",
        "task_finish",
        "task_create",
        "review_submit",
        "review_create_session",
        "review_status",
        "review_report",
        "governance_check",
        "review_approve",
    )

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    # ---- agents and sessions ----

    def agent_register(
        self, name: str, role_modes: list[RoleMode], queues: list[str] | None = None
    ) -> AgentRequested:
        """Ask to join this workspace as an agent. The agent is `pending` until a human member
        approves it (`aios agent approve AGENT_ID --role-modes ...`); then open a session with the
        agent_key returned here (shown once: keep it)."""
        from orchestrator.governance import agents

        with as_tool_errors():
            modes = agents.parse_modes([m.value for m in role_modes])
            agent, key = agents.join(self.shell.workspace(), name, role_modes=modes, queues=queues, via=VIA)
        return AgentRequested(
            agent_id=agent.id,
            state=agent.state.value,
            next=f"a member approves it: `aios agent approve {agent.id} --role-modes "
            f"{','.join(m.value for m in modes)}`; then call session_create with agent_id={agent.id} "
            "and this agent_key",
            agent_key=key,
        )

    def session_create(
        self, agent_id: str, role_mode: RoleMode, task_scope: Scope, ttl: Ttl = "8h", agent_key: AgentKey = ""
    ) -> SessionOpened:
        """Open a session for an approved agent, in one role mode, on the tasks in task_scope
        (all inside the grant a member approved), proving who it is with its agent_key. Returns the
        token for every other tool."""
        return self._open(agent_id, role_mode, task_scope, ttl, agent_key)

    def review_create_session(
        self, agent_id: str, task_scope: Scope, ttl: Ttl = "8h", agent_key: AgentKey = ""
    ) -> SessionOpened:
        """Open a reviewer-mode session for an approved agent on the tasks it is to review: it may
        read them, clear their review for the human checkpoint (task_finish) or block them."""
        return self._open(agent_id, RoleMode.REVIEWER, task_scope, ttl, agent_key)

    def _open(self, agent_id: str, mode: RoleMode, scope: list[str], ttl: str, key: str) -> SessionOpened:
        from orchestrator.governance import sessions
        from orchestrator.state.sessions import parse_ttl

        try:
            lifetime = parse_ttl(ttl)
        except ValueError as exc:
            raise ToolError(f"ttl: {exc}") from None
        with as_tool_errors():
            opened, token = sessions.request(
                self.shell.workspace(),
                agent_id=agent_id,
                role_mode=mode,
                task_scope=scope,
                ttl=lifetime,
                via=VIA,
                agent_key=key,
            )
        self.shell.show(opened.id)
        return SessionOpened(
            session_id=opened.id,
            token=token,
            expires_at=opened.expires_at,
            agent_id=opened.agent_id,
            role_mode=opened.role_mode.value,
            task_scope=opened.task_scope,
        )

    def session_terminate(self, session_token: Token, reason: str = "work done") -> SessionEnded:
        """End this session at once: every later call with its token is refused."""
        from orchestrator.governance import sessions

        with as_tool_errors():
            session = self.shell.session(session_token)
            ended = sessions.terminate(
                self.shell.workspace(), session.id, reason=reason, actor=session.actor, session=session
            )
        self.shell.show(None)
        return SessionEnded(session_id=ended.id, state=ended.state.value)

    # ---- tasks ----

    def task_list(
        self,
        session_token: Token,
        all: bool = False,  # noqa: A002 - named as the CLI's --all flag
        queue: str | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """List live tasks (all tasks with all=true): id, status, queue, priority, title."""
        from orchestrator.governance import actions
        from orchestrator.state import tasks

        with as_tool_errors():
            ws, session = self.shell.workspace(), self.shell.session(session_token)
            actions.require(ws, Op.READ, actor=session.actor, session=session)
            rows = tasks.listing(ws, include_done=all or status == "done")
        return [r for r in rows if queue in (None, r["queue"]) and status in (None, r["status"])]

    def task_status(self, session_token: Token, task_id: TaskId) -> dict[str, Any]:
        """A task in the session's scope: its fields, status, every event, and its worktree."""
        from orchestrator.state import tasks

        with as_tool_errors():
            ws, session = self._read(session_token, task_id)
            data = tasks.get(ws, task_id).model_dump(mode="json", by_alias=True)
        worktree = ws.worktree(task_id)
        return {**data, "worktree": str(worktree) if worktree.is_dir() else None}

    def task_start(self, session_token: Token, task_id: TaskId, reason: str | None = None) -> TaskMoved:
        """Start a ready task (ready -> running). Returns the worktree to write the change in:
        commit it there on the task's branch, then call review_submit."""
        return self._move(session_token, task_id, "start", reason, worktree=True)

    def task_finish(self, session_token: Token, task_id: TaskId, reason: str | None = None) -> TaskMoved:
        """Hand the task to human review (running/code_review -> reviewing); a reviewer session
        clears a review this way."""
        return self._move(session_token, task_id, "finish", reason, worktree=False)

    def _move(self, token: str, tid: str, action: str, reason: str | None, *, worktree: bool) -> TaskMoved:
        from orchestrator.governance import actions

        with as_tool_errors():
            ws, session = self.shell.workspace(), self.shell.session(token)
            task = actions.transition(ws, tid, action, actor=session.actor, session=session, reason=reason)
            where = _worktree(ws, tid) if worktree else None
        before = task.events[-1].from_
        moved = TaskMoved(id=task.id, status=task.status.value, **{"from": before.value if before else ""})
        if where is not None:
            moved.worktree, moved.branch = str(where), f"task/{tid}"
        return moved

    def task_create(
        self,
        session_token: Token,
        queue: str,
        title: str,
        criterion: list[CriterionArg],
        priority: Annotated[int, Field(ge=1, le=5)] = 3,
        role_mode: RoleMode = RoleMode.BUILDER,
        persona: list[str] | None = None,
        path: list[str] | None = None,
        target_branch: str | None = None,
        body: str = "",
    ) -> TaskCreated:
        """Write a TaskCard to tasks/inbox/ and register it (a planner or architect session); a
        human member approves it before anyone starts it."""
        from orchestrator import _yaml
        from orchestrator.governance import actions
        from orchestrator.state.taskcard import TaskCard, task_id

        data = {
            "id": task_id(queue, 0),  # replaced by the next free id of the queue
            "title": title,
            "queue": queue,
            "priority": priority,
            "role_mode": role_mode.value,
            "acceptance_criteria": [
                {"id": f"AC{n}", **c.model_dump(exclude_none=True)} for n, c in enumerate(criterion, 1)
            ],
            "personas": persona or [],
            "paths": path or [],
            "target_branch": target_branch,
            "body": body,
        }
        with as_tool_errors():
            session = self.shell.session(session_token)
            card = _yaml.validate(TaskCard, data, file="task_create arguments")
            task = actions.create_task(self.shell.workspace(), card, actor=session.actor, session=session)
        return TaskCreated(id=task.id, status=task.status.value, card=task.card)

    # ---- review ----

    def review_submit(self, session_token: Token, task_id: TaskId) -> ReviewReply:
        """Submit what is committed on branch task/<ID> for review, as `aios review submit` does.
        Waits for the round: the reply gives the verdict (APPROVED, NEEDS_REVISION, BLOCKED) and
        the findings to fix; if another process is reviewing it, the error says so."""
        from orchestrator.workflow import runs

        # The SDK runs a plain function in a worker thread: a long round does not block the server.
        with as_tool_errors():
            ws, session = self.shell.workspace(), self.shell.session(session_token)
            result = runs.run(ws, task_id, self.shell.run_options(), actor=session.actor, session=session)
        return _reply(ws.worktree(task_id), result)

    def review_status(self, session_token: Token, task_id: TaskId) -> ReviewReply:
        """Where the task's review run stands: status, round, verdict, what it waits for."""
        from orchestrator.workflow import runs

        with as_tool_errors():
            ws, _ = self._read(session_token, task_id)
            result = runs.status(ws, task_id)
        return _reply(ws.worktree(task_id), result)

    def review_report(self, session_token: Token, task_id: TaskId) -> ReviewReport:
        """The latest review round's report: verdict, reasons, every finding and its evidence."""
        from orchestrator.review.report import latest_report, render_markdown, report_paths

        with as_tool_errors():
            ws, _ = self._read(session_token, task_id)
            report = latest_report(ws, task_id)
        if report is None:
            raise ToolError(f"{task_id} has no review report yet: call review_submit first")
        return ReviewReport(
            task=report.task,
            round=report.round,
            verdict=report.verdict.value,
            file=ws.rel(report_paths(ws, task_id, report.round)[1]),
            markdown=render_markdown(report),
            report=report.model_dump(mode="json"),
        )

    def review_approve(self, session_token: Token, task_id: TaskId) -> ReviewReply:
        """Approve the merge of a reviewed change. Refused for every agent: only a human member
        (an L2 lead or higher) approves, with `aios review approve TASK_ID`."""
        from orchestrator.workflow import runs

        with as_tool_errors():
            ws, session = self.shell.workspace(), self.shell.session(session_token)
            result = runs.answer(ws, task_id, "approve", actor=session.actor, session=session)
        return _reply(ws.worktree(task_id), result)

    # ---- governance ----

    def governance_check(
        self,
        session_token: Token,
        action: Op,
        task_id: TaskId | None = None,
        paths: Annotated[
            list[str] | None,
            Field(description="Changed files (worktree-relative) to check against the task."),
        ] = None,
    ) -> GovernanceCheck:
        """May this session take `action` (on task_id)? With paths: do these changed files lie
        inside the TaskCard's paths and outside the governance canon? Asks; changes nothing."""
        from orchestrator.governance.authority import decide
        from orchestrator.state import tasks
        from orchestrator.state.taskcard import load
        from orchestrator.workflow.scope import check_paths

        with as_tool_errors():
            ws, session = self.shell.workspace(), self.shell.session(session_token)
            task = tasks.get(ws, task_id) if task_id is not None else None
            answer = GovernanceCheck(action=action.value, task_id=task_id, allowed=True)
            try:
                decide(ws, action, actor=session.actor, session=session, task=task)
            except PermissionDenied as exc:  # a question, not an attempt: answered, not audited
                answer = answer.model_copy(
                    update={"allowed": False, "rule": exc.rule, "reason": exc.message, "fix": exc.fix}
                )
            if paths is not None and task is not None:
                checked = check_paths(task, load(ws.root / task.card), paths)
                answer = answer.model_copy(
                    update={"paths": checked, "allowed": answer.allowed and checked.allowed}
                )
        return answer

    # ---- shared ----

    def _read(self, token: str, tid: str) -> tuple[Any, Any]:
        """The workspace and session, once the session may read ``tid`` (refused and audited if not)."""
        from orchestrator.governance import actions

        ws, session = self.shell.workspace(), self.shell.session(token)
        actions.require(ws, Op.READ, actor=session.actor, session=session, task_id=tid)
        return ws, session


def _worktree(ws: Any, tid: str) -> Any:
    """The task's worktree on ``task/<ID>``, created from its target branch on first use."""
    from orchestrator.sandbox import git
    from orchestrator.state import tasks
    from orchestrator.state.taskcard import load

    card = load(ws.root / tasks.get(ws, tid).card)
    return git.ensure_worktree(ws.root, tid, tasks.target_branch(ws, card))


_SUMMARY = {
    "human_review": "{verdict}: the review passed; a human member decides on the merge "
    "(`aios review approve {task}`)",
    "escalation": "{verdict}: escalated to a human member, who decides how it goes on",
    "builder": "{verdict}: fix the findings, commit on task/{task} in the worktree, call review_submit again",
}


def _reply(worktree: Any, result: RunStatus) -> ReviewReply:
    """``result`` with the worktree and a summary: the verdict, or that the review is in progress."""
    if result.merged:
        summary = f"merged as {result.merged[:12]}"
    elif result.waiting_for is not None:
        summary = _SUMMARY[result.waiting_for].format(verdict=result.verdict, task=result.task)
    elif result.verdict is None and result.round == 0:
        summary = f"not reviewed yet: commit the change on task/{result.task}, then call review_submit"
    elif result.verdict is None:
        summary = "review in progress: the round has not finished yet"
    else:
        summary = f"{result.verdict}: the run stopped ({result.status})"
    if result.note:
        summary += f"; {result.note}"
    return ReviewReply(
        **result.model_dump(), worktree=str(worktree) if worktree.is_dir() else None, summary=summary
    )
