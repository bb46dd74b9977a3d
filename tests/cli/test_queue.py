"""`aios queue`: lock, unlock and status."""

from __future__ import annotations

import json


def test_queue_lock_unlock_and_status(cli) -> None:
    assert cli("queue", "lock", "--all", "--reason", "freeze").stdout.count("locked") == 4
    rows = json.loads(cli("queue", "status", "--json").stdout)
    assert all(r["locked"] and r["locked_by"] == "alice" for r in rows)
    assert cli("queue", "unlock", "dev").stdout == "dev: unlocked\n"
    assert cli("queue", "lock", "dev", "--all").exit_code == 2
