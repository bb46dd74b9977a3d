"""``aios decision|proposal|deviation``: the commands, their --json keys, refusals and errors."""

from __future__ import annotations

import json

from helpers import new_task

from orchestrator.state.workspace import Workspace


def test_decision_new_list_show_with_stable_json_keys(ws: Workspace, cli) -> None:
    tid = new_task(ws)
    made = cli("decision", "new", "--title", "Pin ruff", "--task", tid, "--body", "Because.", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["id"] == "DEC-0001"
    listed = json.loads(cli("decision", "list", "--json").stdout)
    assert [list(row) for row in listed] == [["id", "at", "by", "title", "tasks"]]
    assert (listed[0]["by"], listed[0]["tasks"]) == ("alice", [tid])
    shown = cli("decision", "show", "DEC-0001")
    assert shown.stdout.startswith("---\nid: DEC-0001\n") and shown.stdout.endswith("---\nBecause.\n\n")
    assert "decision DEC-0001: Pin ruff" in ws.audit_file(tid).read_text()


def test_an_operator_may_propose_but_not_decide_and_the_refusal_is_logged(ws: Workspace, cli) -> None:
    assert cli("proposal", "new", "--title", "Add a data queue", actor="bob").exit_code == 0
    refused = cli("proposal", "accept", "PROP-0001", "--reason", "fine", actor="bob")
    assert refused.exit_code == 1
    assert "bob (L3 human operator) may not accept or reject a proposal" in refused.stderr
    assert "violation · by bob" in ws.governance_log.read_text()
    assert cli("proposal", "reject", "PROP-0001", "--reason", "not now").exit_code == 0
    listed = json.loads(cli("proposal", "list", "--json").stdout)
    assert list(listed[0]) == ["id", "at", "by", "title", "queue", "specs", "status", "decided_by",
                               "decided_at", "decision_reason"]  # fmt: skip
    assert (listed[0]["status"], listed[0]["decided_by"]) == ("rejected", "alice")
    again = cli("proposal", "accept", "PROP-0001", "--reason", "changed my mind")
    assert again.exit_code == 1 and "was rejected by alice" in again.stderr


def test_deviation_new_list_resolve(ws: Workspace, cli) -> None:
    tid = new_task(ws)
    made = cli("deviation", "new", "--reason", "hotfix", "--task", tid, "--expires", "7d")
    assert made.exit_code == 0 and made.stdout == "DEV-0001\n"
    listed = json.loads(cli("deviation", "list", "--json").stdout)
    assert list(listed[0]) == ["id", "at", "by", "reason", "tasks", "paths", "expires_at", "resolved_by",
                               "resolved_at", "resolution", "state"]  # fmt: skip
    assert listed[0]["state"] == "open"
    assert cli("deviation", "resolve", "DEV-0001", "--reason", "reviewed").exit_code == 0
    assert json.loads(cli("deviation", "list", "--open", "--json").stdout) == []
    bad = cli("deviation", "new", "--reason", "x", "--task", tid, "--expires", "soon")
    assert bad.exit_code == 1 and "--expires 'soon' is not a duration or a time" in bad.stderr


def test_a_malformed_record_is_an_error_naming_file_line_and_fix(ws: Workspace, cli) -> None:
    cli("decision", "new", "--title", "t")
    path = next(ws.decisions_dir.glob("*-DEC-0001.md"))
    path.write_text(path.read_text().replace("title: t", "title: t\nowner: x"))
    done = cli("decision", "list")
    assert done.exit_code == 1
    assert done.stderr.startswith(
        f"error: ops/decision-log/{path.name}:6: owner: unknown field\n  fix: remove"
    )
