"""A task's worktree is never a workspace: aios run inside one works on the workspace around it."""

from __future__ import annotations

from orchestrator.sandbox import git
from orchestrator.state.workspace import Workspace


def test_find_from_inside_a_task_worktree_is_the_enclosing_workspace(ws: Workspace) -> None:
    # The worktree's committed copy of state/ would otherwise make it a workspace of its own, whose
    # workflows/ and personas/ are the branch's.
    (ws.root / "workflows").mkdir()
    (ws.root / "workflows" / "pair_programming.yaml").write_text("rounds: {max: 2}\n")
    git.commit_all(ws.root, "the workspace, committed")
    worktree = git.ensure_worktree(ws.root, "TASK_DEV_0001", "HEAD")
    assert (worktree / "state" / "project.yaml").is_file()
    sub = worktree / "workflows"
    assert Workspace.find(worktree) == ws
    assert Workspace.find(sub) == ws
    assert Workspace.find(worktree, explicit=True) == ws  # `--root` naming the worktree too


def test_a_workspace_inside_an_aios_folder_of_no_workspace_is_itself(ws: Workspace) -> None:
    nested = ws.root / "vendor" / ".aios" / "x"
    (nested / "state").mkdir(parents=True)
    (nested / "state" / "project.yaml").write_text((ws.project_file).read_text())
    assert Workspace.find(nested) == Workspace(nested)  # its .aios/ parent is no workspace
