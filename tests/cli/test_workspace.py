"""`aios init` and `aios state`: setting up changes nothing the second time; rebuild keeps locks."""

from __future__ import annotations

from pathlib import Path

from helpers import git_repo, run_aios

from orchestrator.state.workspace import Workspace


def test_init_twice_changes_nothing(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    first = run_aios("init", cwd=repo)
    assert first.returncode == 0 and "created state/project.yaml" in first.stdout
    snapshot = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    second = run_aios("init", cwd=repo)
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert snapshot == {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


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
