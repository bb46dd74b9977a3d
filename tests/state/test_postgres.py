"""The PostgreSQL store's own guarantees: its schema version, and its rows keyed by workspace."""

from __future__ import annotations

import pytest
from helpers import ready_task

from orchestrator.errors import StateError
from orchestrator.governance import actions
from orchestrator.state import _pg as postgres
from orchestrator.state.workspace import Workspace


def test_a_database_with_a_newer_schema_is_refused(postgres_url: str) -> None:
    conn = postgres.connect(postgres_url)
    conn.execute("INSERT INTO aios_schema (version) VALUES (%s)", (postgres.SCHEMA_VERSION + 1,))
    with pytest.raises(StateError) as refused:
        postgres._open(postgres_url)
    assert refused.value.message == (
        f"the state database has schema version {postgres.SCHEMA_VERSION + 1}; "
        f"this aios knows {postgres.SCHEMA_VERSION}"
    )


def test_tables_hold_the_columns_and_one_row_per_event(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    tid = ready_task(ws)
    actions.transition(ws, tid, "start", actor="alice")
    conn = postgres.connect(postgres_url)
    key = ws.project.workspace_id
    row = conn.execute("SELECT queue, status, priority, title FROM aios_tasks WHERE ws = %s", (key,))
    assert row.fetchone() == ("dev", "running", 3, "Do a thing")
    seqs = conn.execute("SELECT seq, n FROM aios_events WHERE ws = %s ORDER BY seq", (key,)).fetchall()
    assert seqs == [(1, 1), (2, 2), (3, 3)]
    counters = conn.execute("SELECT name, value FROM aios_counters WHERE ws = %s ORDER BY position", (key,))
    assert counters.fetchall() == [("seq", 3), ("DEV", 2)]
