"""`aios freeze` / `aios unfreeze`: the project owner locks everything at once, and lifts it."""

from __future__ import annotations

import json
import re

from helpers import ready_task

from orchestrator import _yaml
from orchestrator.state.workspace import Workspace

QUEUES = ["research", "data", "dev", "governance"]


def record_of(ws: Workspace) -> tuple[dict[str, object], str]:
    """The one freeze record's front matter and its whole text."""
    [path] = sorted(ws.freeze_dir.glob("FREEZE-*.md"))
    assert re.fullmatch(r"FREEZE-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.md", path.name)
    text = path.read_text()
    front = text.split("---\n")[1]
    return _yaml.load(front, file=path), text


def test_freeze_locks_every_queue_records_it_and_unfreeze_lifts_it(cli, ws: Workspace) -> None:
    done = cli("freeze", "--reason", "incident 42")
    assert done.exit_code == 0, done.output
    meta, text = record_of(ws)
    record = f"ops/freeze/{next(ws.freeze_dir.glob('FREEZE-*.md')).name}"
    assert done.stdout == (
        "frozen: every queue is locked; running workflows stop at their next step; "
        f"the record is {record}\nthe project owner lifts it with `aios unfreeze`\n"
    )
    assert {k: meta[k] for k in ("by", "reason", "queues")} == {
        "by": "alice",
        "reason": "incident 42",
        "queues": QUEUES,
    }
    assert "every running workflow stops at its next step" in text

    status = cli("queue", "status")
    assert status.stdout.startswith(f"FROZEN since {meta['at']} by alice (incident 42); record {record}\n")
    rows = json.loads(cli("queue", "status", "--json").stdout)
    assert all(r["locked"] and r["locked_by"] == "alice" for r in rows)
    assert rows[0]["frozen"] == {
        "by": "alice",
        "at": meta["at"],
        "reason": "incident 42",
        "record": record,
        "locked": QUEUES,
    }

    again = cli("freeze", "--reason", "twice")
    assert again.stdout == f"already frozen since {meta['at']} by alice; the record is {record}\n"

    lifted = cli("unfreeze", "--reason", "all clear", "--json")
    assert lifted.exit_code == 0, lifted.output
    out = json.loads(lifted.stdout)
    assert (out["frozen"], out["changed"], out["lifted_by"], out["queues"]) == (False, True, "alice", QUEUES)
    assert not any(r["locked"] or r["frozen"] for r in json.loads(cli("queue", "status", "--json").stdout))
    assert re.search(r"\n- \S+ · lifted by alice · all clear\n$", record_of(ws)[1])
    log = ws.governance_log.read_text()
    assert (
        f"system frozen by alice: every queue locked ({', '.join(QUEUES)}); incident 42; see {record}" in log
    )
    assert "system unfrozen by alice" in log
    history = ws.queue_locks_file.read_text()
    assert f"{', '.join(QUEUES)} locked by alice · system freeze: incident 42" in history
    assert f"{', '.join(QUEUES)} unlocked by alice · system unfrozen" in history
    assert cli("unfreeze").stdout == "not frozen: nothing to lift\n"


def test_a_queue_locked_before_the_freeze_stays_locked_after_it(cli) -> None:
    cli("queue", "lock", "data", "--reason", "migration")
    cli("freeze", "--reason", "drill")
    done = cli("unfreeze")
    assert done.stdout.startswith("unfrozen: queues unlocked: research, dev, governance; the record is ")
    rows = {r["queue"]: r for r in json.loads(cli("queue", "status", "--json").stdout)}
    assert (rows["data"]["locked"], rows["data"]["reason"]) == (True, "migration")


def test_while_frozen_no_queue_unlocks_and_nothing_starts(cli, ws: Workspace) -> None:
    tid = ready_task(ws)
    cli("freeze", "--reason", "incident 42")
    unlock = cli("queue", "unlock", "dev")
    assert unlock.exit_code == 1
    assert unlock.stderr.startswith("error: the system is frozen since ")
    assert ": its queues stay locked until it is lifted\n" in unlock.stderr
    assert unlock.stderr.endswith(
        "  fix: the project owner lifts the freeze with `aios unfreeze` (see ops/freeze/ for why it froze)\n"
    )
    start = cli("task", "start", tid)
    assert start.exit_code == 1 and "no queue starts anything" in start.stderr


def test_only_the_project_owner_freezes_or_unfreezes(cli, ws: Workspace) -> None:
    """bob is an operator (L3): he may lock a queue, not freeze the system (the owner's call, L0)."""
    refused = cli("freeze", "--reason", "mine", actor="bob")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: bob (L3 human operator) may not freeze the system: it needs an L0 project owner\n"
        "  fix: ask a member who is an L0 project owner (`aios member list` shows them)\n"
    )
    assert "violation · by bob · refused (authority-level): freeze" in ws.governance_log.read_text()
    assert cli("freeze", "--reason", "owner's call").exit_code == 0
    refused = cli("unfreeze", actor="bob")
    assert refused.exit_code == 1 and "bob (L3 human operator) may not unfreeze the system" in refused.stderr
    agent = cli("unfreeze", actor="agent:builder")
    assert (
        agent.exit_code == 1 and "agent:builder is an agent, and an agent acts only through" in agent.stderr
    )
    assert json.loads(cli("queue", "status", "--json").stdout)[0]["frozen"]["by"] == "alice"


def test_freeze_needs_a_reason(cli) -> None:
    assert cli("freeze").exit_code == 2  # a usage error: --reason is required
    blank = cli("freeze", "--reason", " ", "--json")
    assert blank.exit_code == 1
    assert json.loads(blank.stdout)["error"] == "freezing the system needs a reason"


def test_review_run_of_a_frozen_task_exits_1_saying_who_froze_it_and_how_to_go_on(cli, ws: Workspace) -> None:
    from orchestrator.sandbox import git

    (ws.root / "README.md").write_text("demo\n")
    git.commit_all(ws.root, "initial")
    tid = ready_task(ws)
    cli("task", "start", tid)
    cli("freeze", "--reason", "incident 42")
    at = json.loads(cli("queue", "status", "--json").stdout)[0]["frozen"]["at"]
    done = cli("review", "run", tid, "--builder", "external", "--reviewer", "static", "--no-sandbox")
    assert done.exit_code == 1
    assert done.stderr == (
        f"error: {tid}'s run stopped before it could start round 1: the system is frozen since {at} by alice "
        "(incident 42)\n  fix: the project owner lifts the freeze with `aios unfreeze` (see ops/freeze/ "
        f"for why it froze); then `aios review run {tid}` resumes from the checkpoint\n"
    )
