"""Archiving finished tasks' trails: they move to ops/archive/ and everything still finds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import ready_task

from orchestrator.governance import actions
from orchestrator.state import audit_chain, tasks
from orchestrator.state.archive import archive_audits
from orchestrator.state.check import check_state
from orchestrator.state.workspace import Workspace


def _finish(ws: Workspace, tid: str) -> None:
    for action in ("start", "finish", "merge"):
        actions.transition(ws, tid, action, actor="alice")


def test_finished_old_trails_move_and_stay_readable_and_appendable(ws: Workspace, cli) -> None:
    done, live = ready_task(ws), ready_task(ws)
    _finish(ws, done)
    assert tasks.get(ws, done).status.value == "done"
    assert archive_audits(ws, older_than_days=1) == []  # too recent
    later = datetime.now(UTC) + timedelta(days=2)
    assert archive_audits(ws, older_than_days=1, now=later) == [done]
    assert not (ws.audit_dir / f"{done}.md").exists() and ws.audit_file(done) == ws.archive_dir / f"{done}.md"
    assert (ws.audit_dir / f"{live}.md").exists()
    assert cli("task", "status", done).exit_code == 0
    tasks.note(ws, done, actor="alice", reason="a note after archiving")
    assert "a note after archiving" in (ws.archive_dir / f"{done}.md").read_text()
    assert audit_chain.verify(ws, tasks.get(ws, done)).ok and check_state(ws) == []
    result = cli("maintenance", "archive-audits", "--older-than", "0")
    assert result.exit_code == 0 and result.stdout == "Archived 0 audit trail(s) to ops/archive/.\n"
