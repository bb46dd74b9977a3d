"""The aios command line: output contracts, exit codes and one-paragraph errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import git_repo, run_aios

from orchestrator.state.workspace import Workspace


def test_new_prints_id_and_json(cli) -> None:
    result = cli("task", "new", "--queue", "dev", "--title", "Add login", "--criterion", "works")
    assert result.exit_code == 0
    assert result.stdout == "TASK_DEV_0001\n"
    result = cli("task", "new", "--queue", "dev", "--title", "Second", "--criterion", "x", "--json")
    assert json.loads(result.stdout)["id"] == "TASK_DEV_0002"


def test_each_check_follows_its_criterion(cli, ws: Workspace) -> None:
    cli(
        "task",
        "new",
        "--queue",
        "dev",
        "--title",
        "T",
        "--criterion",
        "a",
        "--criterion",
        "b",
        "--check",
        "pytest -q",
        "--criterion",
        "c",
    )
    card = (ws.inbox_dir / "TASK_DEV_0001.md").read_text()
    assert "- id: AC1\n  text: a\n- id: AC2\n  text: b\n  check: pytest -q\n- id: AC3\n  text: c\n" in card


def test_status_and_list_json_contract(cli) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    cli("task", "approve", "TASK_DEV_0001")
    status = json.loads(cli("task", "status", "TASK_DEV_0001", "--json").stdout)
    assert status["status"] == "ready"
    assert [(e["from"], e["to"], e["actor"]) for e in status["events"]] == [
        (None, "inbox", "alice"),
        ("inbox", "ready", "alice"),
    ]
    assert {"at", "actor", "from", "to", "reason"} <= status["events"][0].keys()
    listing = json.loads(cli("task", "list", "--json").stdout)
    assert listing == [
        {"id": "TASK_DEV_0001", "status": "ready", "queue": "dev", "priority": 3, "title": "T"}
    ]


def test_refusal_exits_1_with_one_paragraph(cli) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    result = cli("task", "start", "TASK_DEV_0001")
    assert result.exit_code == 1
    # CliRunner bypasses the console-script boundary; the subprocess tests below check stderr.


def test_usage_error_exits_2(cli) -> None:
    result = cli("task", "new", "--title", "no queue")
    assert result.exit_code == 2
    assert "missing --queue, --criterion" in result.stderr


def test_queue_lock_unlock_and_status(cli) -> None:
    assert cli("queue", "lock", "--all", "--reason", "freeze").stdout.count("locked") == 4
    rows = json.loads(cli("queue", "status", "--json").stdout)
    assert all(r["locked"] and r["locked_by"] == "alice" for r in rows)
    assert cli("queue", "unlock", "dev").stdout == "dev: unlocked\n"
    assert cli("queue", "lock", "dev", "--all").exit_code == 2


def test_init_twice_changes_nothing(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    first = run_aios("init", cwd=repo)
    assert first.returncode == 0 and "created state/project.yaml" in first.stdout
    snapshot = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    second = run_aios("init", cwd=repo)
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert snapshot == {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


def test_commands_find_the_workspace_from_a_subfolder(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    run_aios("init", cwd=repo, actor="alice")
    (repo / "src" / "deep").mkdir(parents=True)
    made = run_aios(
        "task", "new", "--queue", "research", "--title", "x", "--criterion", "y", cwd=repo / "src/deep"
    )
    assert made.stdout == "TASK_RESEARCH_0001\n"


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("none", ["init"], "is not inside a git repository"),
        ("none", ["task", "list"], "no aios workspace in"),
        ("ws", ["task", "new", "--queue", "ops", "--title", "t", "--criterion", "c"], "unknown queue 'ops'"),
        ("ws", ["task", "status", "TASK_DEV_0099"], "no task TASK_DEV_0099"),
        (
            "card:---\nid: TASK_DEV_0001\ntitle: t\nqueue: dev\nacceptance_criteria: []\n---\n",
            ["task", "new", "--file", "card.md"],
            "card.md:5: acceptance_criteria: List should have at least 1 item",
        ),
        (
            "card:---\nid: TASK_DEV_0001\ntitle: t\nqueue: dev\nowner: me\n"
            "acceptance_criteria: [{id: A, text: b}]\n---\n",
            ["task", "new", "--file", "card.md"],
            "card.md:5: owner: unknown field",
        ),
        (
            "card:---\nid: TASK_DEV_0001\ntitle: [t\n---\n",
            ["task", "validate", "card.md"],
            "card.md:4: this is not valid YAML",
        ),
        ("broken-index", ["task", "start", "TASK_DEV_0001"], "state/tasks.yaml:"),
        ("broken-task", ["task", "status", "TASK_DEV_0001"], "state/tasks/TASK_DEV_0001.yaml:"),
        ("broken-project", ["queue", "status"], "state/project.yaml:"),
        ("dup", ["task", "new", "--file", "card.md"], "task TASK_DEV_0001 already exists"),
    ],
)
def test_broken_inputs_get_a_clear_error_and_no_traceback(
    tmp_path: Path, setup: str, args: list[str], expected: str
) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    if setup != "none":
        git_repo(repo)
        run_aios("init", cwd=repo)
    if setup.startswith("card:"):
        (repo / "card.md").write_text(setup.removeprefix("card:"))
    if setup in ("broken-index", "broken-task", "dup"):
        run_aios("task", "new", "--queue", "dev", "--title", "t", "--criterion", "c", cwd=repo)
        (repo / "card.md").write_text((repo / "tasks/inbox/TASK_DEV_0001.md").read_text())
    if setup == "broken-index":
        (repo / "state/tasks.yaml").write_text("queues:\n  dev: SYSTEM_LOK\n")
    if setup == "broken-task":
        path = repo / "state/tasks/TASK_DEV_0001.yaml"
        path.write_text(path.read_text().replace("status: inbox", "status: runing"))
    if setup == "broken-project":
        path = repo / "state/project.yaml"
        path.write_text(path.read_text().replace("max_concurrent: 3", "max_concurrent: three"))
    before = {p: p.read_bytes() for p in repo.rglob("*.yaml")}
    result = run_aios(*args, cwd=repo)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert before == {p: p.read_bytes() for p in repo.rglob("*.yaml")}  # nothing overwritten


def test_validate_checks_all_cards_and_exits_1_on_any_error(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    run_aios("init", cwd=repo)
    run_aios("task", "new", "--queue", "dev", "--title", "t", "--criterion", "c", cwd=repo)
    assert run_aios("task", "validate", cwd=repo).returncode == 0
    (repo / "tasks/inbox/TASK_DEV_0002.md").write_text(
        "---\nid: TASK_DEV_0002\ntitle: t\nqueue: dev\npersonas: [securty_expert]\n"
        "acceptance_criteria: [{id: A, text: b}]\n---\n"
    )
    result = run_aios("task", "validate", cwd=repo)
    assert result.returncode == 1
    assert "ok     " in result.stdout
    assert "personas[0]: unknown persona 'securty_expert'" in result.stderr


FORGED_ACTOR = "ceo\n- #99 · 2026-01-01T00:00:00.000Z · ready → done · by ceo (human) · merged"


def test_a_forged_actor_is_refused_at_the_command_line(cli, ws: Workspace) -> None:
    cli("task", "new", "--queue", "dev", "--title", "T", "--criterion", "a")
    result = cli("task", "approve", "TASK_DEV_0001", actor=FORGED_ACTOR)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the actor name 'ceo\\n- #99 · 2026-01-01T00:00:00.000Z · ready → done · by ceo (human) · "
        "merged' holds a control character, \\n (U+000A)\n"
        "  fix: pass --actor (or set AIOS_ACTOR) to your member name, or agent:<id> for an agent: "
        "printable characters only, at most 100\n"
    )
    result = cli("--actor", "alice\x1b]0;pwned\x07", "task", "approve", "TASK_DEV_0001")
    assert (
        result.exit_code == 1 and "\x1b" not in result.stderr and "alice\\x1b]0;pwned\\x07" in result.stderr
    )
    assert "- #99" not in (ws.audit_dir / "TASK_DEV_0001.md").read_text()


def test_user_text_is_printed_escaped(cli) -> None:
    title = "Fix [bold]it[/bold]"
    cli("task", "new", "--queue", "dev", "--title", title, "--criterion", "a")
    reason = "cleared\x1b[2J\x1b]0;pwned\x07 [red]x[/red]"
    cli("task", "approve", "TASK_DEV_0001", "--reason", reason)
    status = cli("task", "status", "TASK_DEV_0001").stdout
    assert "\x1b" not in status and "\x07" not in status
    assert "by alice  cleared\\x1b[2J\\x1b]0;pwned\\x07 [red]x[/red]\n" in status
    listing = cli("task", "list").stdout
    assert "Fix [bold]it[/bold]" in listing  # rich markup printed as written, not rendered


def test_rebuild_keeps_a_misspelt_lock_and_says_so(cli, ws: Workspace) -> None:
    text = ws.index_file.read_text()
    ws.index_file.write_text(text.replace("  dev: {running: []}", "  dev: SYSTEM-LOCK"))
    result = cli("state", "rebuild")
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: queue dev kept locked: the old index could not be read, and it reads `dev: SYSTEM-LOCK`\n"
        "  fix: check why it was locked (ops/freeze/queue-locks.md), then `aios queue unlock dev`\n"
    )
    assert "SYSTEM_LOCK by aios state rebuild" in cli("queue", "status").stdout
