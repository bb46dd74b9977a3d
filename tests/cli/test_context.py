"""What every command gets from the global options: the workspace found from a subfolder, a checked actor."""

from __future__ import annotations

from pathlib import Path

from helpers import git_repo, run_aios

from orchestrator.state.workspace import Workspace


def test_commands_find_the_workspace_from_a_subfolder(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    run_aios("init", cwd=repo, actor="alice")
    (repo / "src" / "deep").mkdir(parents=True)
    made = run_aios(
        "task", "new", "--queue", "research", "--title", "x", "--criterion", "y", cwd=repo / "src/deep"
    )
    assert made.stdout == "TASK_RESEARCH_0001\n"


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
