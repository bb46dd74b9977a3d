"""Helpers of the MCP shell's tests: call its tools, and a task ready for review."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers import CALC, MUL_CHECK, calc_change, plain_git, write

from orchestrator.governance import actions
from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, RoleMode, TaskCard
from orchestrator.state.workspace import Workspace


async def call(client: Any, tool: str, **args: Any) -> Any:
    """Call ``tool``; its structured result, or raise ``AssertionError`` with the error text."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def refused(client: Any, tool: str, **args: Any) -> str:
    """Call ``tool`` expecting a tool error; returns its text."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return result.content[0].text


BASE = CALC
#: The agent's first attempt: ``mul`` adds, so its test and the acceptance check fail.
BROKEN = calc_change("a + b")
FIXED = calc_change()
CHECK = MUL_CHECK


def reviewable_task(ws: Workspace, *, mode: RoleMode = RoleMode.BUILDER) -> str:
    """A task alice approved (ready to start) on a tiny calc project; returns its id."""
    write(ws.root, BASE)
    git.commit_all(ws.root, "calc")
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Add mul",
        queue="dev",
        role_mode=mode,
        paths=["src/", "tests/"],
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=CHECK)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    return tid


def commit(worktree: Path, files: Mapping[str, str], message: str) -> None:
    """What the agent does in the worktree with its own shell: write, ``git add``, ``git commit``."""
    write(worktree, files)
    plain_git(worktree, "add", "-A")
    plain_git(worktree, "commit", "-q", "-m", message)
