"""`aios task validate`: every card is checked, and any error exits 1."""

from __future__ import annotations

from pathlib import Path

from helpers import git_repo, run_aios


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
