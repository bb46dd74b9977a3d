"""Fixtures for the web shell: a task at the human checkpoint, an app, a logged-in client."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from helpers import CALC, MUL_CHECK, calc_change, write
from starlette.testclient import TestClient

from orchestrator.governance import actions
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.web.app import create_app
from orchestrator.web.auth import Gate

LINK_TOKEN = "test-link-token"
BASE = CALC
#: ``mul`` works and is tested, so the review approves it; the unused import on new line 7 is a
#: minor ruff finding (F401), which does not hold the approval back: it shows at its line.
CHANGE = calc_change(before="import os\n\n\n")
FINDING_LINE = 8
CHECK = MUL_CHECK


def started_task(ws: Workspace, *, title: str = "Add mul", change: Mapping[str, str] = CHANGE) -> str:
    """A started task whose change is committed on its branch; returns its id."""
    if not (ws.root / "src" / "calc.py").exists():
        write(ws.root, BASE)
        git.commit_all(ws.root, "calc")
    card = TaskCard(
        id="TASK_DEV_0000",
        title=title,
        queue="dev",
        paths=["src/", "tests/"],
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=CHECK)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    write(worktree, change)
    git.commit_all(worktree, "Add mul")
    return tid


def reviewed_task(ws: Workspace, **kwargs: object) -> str:
    """A task the static reviewer approved: it waits at the human checkpoint."""
    from orchestrator.workflow import runs
    from orchestrator.workflow.options import RunOptions

    tid = started_task(ws, **kwargs)  # type: ignore[arg-type]
    options = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=bwrap_available())
    result = runs.run(ws, tid, options, actor="alice")
    assert (result.verdict, result.waiting_for) == ("APPROVED", "human_review"), result
    return tid


@pytest.fixture
def client(ws: Workspace):
    """A client of the app on ``ws``; not logged in (``login(client, member)`` does that)."""
    app = create_app(ws.root, gate=Gate(LINK_TOKEN), sandbox=bwrap_available())
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def login(client: TestClient, member: str = "alice") -> str:
    """Redeem the link, choose ``member``; returns the session's CSRF token."""
    opened = client.get(f"/login?token={LINK_TOKEN}")
    assert opened.status_code == 200, opened.text
    csrf = csrf_of(opened.text)
    chosen = client.post("/login", data={"member": member, "csrf": csrf})
    assert chosen.status_code == 200 and f'id="member">{member}<' in chosen.text, chosen.text
    return csrf


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)
