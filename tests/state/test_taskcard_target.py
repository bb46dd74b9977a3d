"""A TaskCard's ``target_branch``: optional, recorded as the default branch when a task is created."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.state import tasks
from orchestrator.state.setup import init
from orchestrator.state.taskcard import Criterion, TaskCard, parse, render

FRONT = "---\nid: TASK_DEV_0001\ntitle: t\nqueue: dev\nacceptance_criteria: [{id: AC1, text: ok}]\n"


def card(**fields: object) -> TaskCard:
    return TaskCard(
        id="TASK_DEV_0001",
        title="t",
        queue="dev",
        acceptance_criteria=[Criterion(id="AC1", text="ok")],
        **fields,
    )


def test_a_card_without_a_target_branch_parses_and_renders_without_one() -> None:
    parsed = parse(FRONT + "---\n", file="c.md")
    assert parsed.target_branch is None
    assert "target_branch" not in render(parsed) and parse(render(parsed), file="c.md") == parsed


def test_a_card_naming_main_keeps_it() -> None:
    assert parse(FRONT + "target_branch: main\n---\n", file="c.md").target_branch == "main"
    assert "\ntarget_branch: release/2.x\n" in render(card(target_branch="release/2.x"))


@pytest.mark.parametrize("bad", ["--upload-pack=x", "a b", "a:b", "x~1", ""])
def test_a_target_branch_that_is_no_branch_name_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not a branch name") as err:
        parse(FRONT + f"target_branch: '{bad}'\n---\n", file="c.md")
    assert (err.value.field, err.value.line) == ("target_branch", 6)


def _workspace(tmp_path: Path, branch: str):
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", branch, str(root)], check=True)
    ws, _ = init(root, owner="alice")
    return ws


def test_a_new_task_records_the_repository_default_branch_in_its_card(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "trunk")
    task = tasks.create(ws, card(), actor="alice")
    written = parse((ws.root / task.card).read_text(), file=task.card)
    assert written.target_branch == "trunk"


def test_a_named_target_branch_is_kept(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "trunk")
    task = tasks.create(ws, card(target_branch="develop"), actor="alice")
    assert parse((ws.root / task.card).read_text(), file=task.card).target_branch == "develop"


def test_a_registered_card_file_is_left_alone_and_resolves_when_asked(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "master")
    file = ws.root / "my-card.md"
    file.write_text(FRONT + "---\n")
    tasks.create(ws, parse(file.read_text(), file=file), actor="alice", card_file=file)
    assert file.read_text() == FRONT + "---\n"
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "initial"], cwd=ws.root, check=True)
    subprocess.run(["git", "switch", "-q", "-c", "task/TASK_DEV_0001"], cwd=ws.root, check=True)
    # The main checkout now holds the task's own branch: never a target.
    assert tasks.target_branch(ws, parse(file.read_text(), file=file)) == "master"
