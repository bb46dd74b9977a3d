"""``aios review status|approve|reject``: ``--json`` keys, order and values are a contract.

The text output reads the same ``RunStatus``.
"""

from __future__ import annotations

import json

import pytest
from helpers import reviewed_with_a_finding, started_feature_task

from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state.workspace import Workspace

#: ``aios review ... --json`` keys, in order, as shells and scripts read them.
STATUS_KEYS = ["task", "status", "round", "verdict", "waiting_for", "merged", "reasons", "findings", "note"]
FINDING_KEYS = ["dimension", "severity", "file", "line", "rule", "message", "suggestion", "persona"]


def test_status_json_before_any_run(ws: Workspace, cli) -> None:
    tid = started_feature_task(ws)
    done = cli("review", "status", tid, "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert list(out) == STATUS_KEYS
    assert out == {
        "task": tid,
        "status": "running",
        "round": 0,
        "verdict": None,
        "waiting_for": None,
        "merged": None,
        "reasons": [],
        "findings": [],
        "note": None,
    }


def test_status_json_keys_order_and_values_after_a_round(ws: Workspace, cli) -> None:
    tid = started_feature_task(ws)
    reviewed_with_a_finding(ws, tid)
    out = json.loads(cli("review", "status", tid, "--json").stdout)
    assert list(out) == STATUS_KEYS and list(out["findings"][0]) == FINDING_KEYS
    assert out == {
        "task": tid,
        "status": "reviewing",
        "round": 1,
        "verdict": "APPROVED",
        "waiting_for": "human_review",
        "merged": None,
        "reasons": ["minor only"],
        "findings": [
            {
                "dimension": "O",
                "severity": "minor",
                "file": "feature.py",
                "line": 1,
                "rule": None,
                "message": "leftover debug print",
                "suggestion": "drop it",
                "persona": "testing_expert",
            }
        ],
        "note": None,
    }


def test_status_text_reads_the_same_status(ws: Workspace, cli) -> None:
    tid = started_feature_task(ws)
    reviewed_with_a_finding(ws, tid)
    done = cli("review", "status", tid)
    assert done.stdout.splitlines() == [
        f"{tid}: reviewing, round 1, verdict APPROVED; waiting for a human: "
        "`aios review approve` or `aios review reject --feedback ...`",
        "  - minor only",
        "  minor    O feature.py:1 testing_expert: leftover debug print",
    ]


@pytest.mark.parametrize(
    "action",
    [
        pytest.param("approve", marks=pytest.mark.skipif(not bwrap_available(), reason="approve sandboxes")),
        "reject",
    ],
)
def test_answering_with_nothing_waiting_is_refused_with_the_note_as_a_json_error(
    ws: Workspace, cli, action: str
) -> None:
    # Issue 11: a decision with nothing to decide exits 1 (it used to print the note and exit 0).
    tid = started_feature_task(ws)
    args = ["--feedback", "again", "--no-sandbox"] if action == "reject" else []
    done = cli("review", action, tid, *args, "--json")
    assert done.exit_code == 1, done.output
    assert json.loads(done.stdout) == {
        "error": f"nothing is waiting for a decision on {tid}; run `aios review run {tid}` first",
        "fix": f"`aios review status {tid}` shows what the task waits for",
        "file": None,
        "field": None,
        "line": None,
    }


def test_dismissing_before_any_review_is_refused_with_what_to_do(ws: Workspace, cli) -> None:
    tid = started_feature_task(ws)
    done = cli("review", "dismiss", tid, "0123456789ab", "--reason", "noise", "--json")
    assert done.exit_code == 1, done.output
    assert json.loads(done.stdout) == {
        "error": f"{tid} has no review yet",
        "fix": f"run `aios review run {tid}` first",
        "file": None,
        "field": None,
        "line": None,
    }


def test_show_with_a_damaged_report_names_the_file_and_the_fix(ws: Workspace, cli) -> None:
    tid = started_feature_task(ws)
    folder = ws.reviews_dir(tid)
    folder.mkdir(parents=True)
    (folder / "round-1.json").write_text('{"task": ')
    result = cli("review", "show", tid)
    assert result.exit_code == 1
    rel = ws.rel(folder / "round-1.json")
    assert f"{rel}:1: the review report is not valid JSON" in result.output
    assert f"fix: restore it from git (`git checkout -- {rel}`)" in result.output
    assert "Traceback" not in result.output and "ValidationError" not in result.output
