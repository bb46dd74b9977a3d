"""``aios state backup`` / ``restore``: byte-for-byte round trips; a bad backup changes nothing."""

from __future__ import annotations

import pytest
from helpers import ready_task

from orchestrator.errors import StateError
from orchestrator.governance import actions
from orchestrator.state import tasks
from orchestrator.state.backup import MANIFEST, backup, restore, state_files
from orchestrator.state.check import check_state
from orchestrator.state.workspace import Workspace


def snapshot(ws: Workspace) -> dict[str, bytes]:
    return {rel: path.read_bytes() for rel, path in state_files(ws.state_dir).items()}


def test_backup_then_restore_round_trips_every_state_file_byte_for_byte(ws: Workspace) -> None:
    ready_task(ws)
    tid = ready_task(ws)
    before = snapshot(ws)
    made = backup(ws)
    assert made.path == ws.root / "backups" / made.path.name and made.path.name.startswith("state-")
    assert set(made.files) == set(before) and {"project.yaml", "tasks.yaml", f"tasks/{tid}.yaml"} <= set(
        before
    )
    # Damage: a task file garbled, the agents file gone, a stray file added.
    ws.task_file(tid).write_text("garbage: [")
    ws.agents_file.unlink()
    (ws.tasks_dir / "TASK_DEV_0099.yaml").write_text("x: 1\n")
    done = restore(ws, made.path)
    assert snapshot(ws) == before
    assert set(state_files(done.kept.path)) == set(before) - {"agents.yaml"} | {"tasks/TASK_DEV_0099.yaml"}
    assert check_state(ws) == []
    actions.transition(ws, tid, "start", actor="alice")  # numbering and chain go on after a restore
    assert check_state(ws) == []


def test_a_second_backup_the_same_day_gets_a_number(ws: Workspace) -> None:
    first, second = backup(ws).path.name, backup(ws).path.name
    assert second == f"{first}-2"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda b: (b / "tasks.yaml").write_text("edited"),
            "tasks.yaml was changed since the backup was taken",
        ),
        (lambda b: (b / "agents.yaml").unlink(), "agents.yaml is missing since the backup was taken"),
        (lambda b: (b / MANIFEST).unlink(), "the backup has no readable MANIFEST.json"),
    ],
)
def test_restoring_a_corrupt_backup_is_refused_and_changes_nothing(
    ws: Workspace, damage, message: str
) -> None:
    ready_task(ws)
    made = backup(ws)
    damage(made.path)
    tasks.note(ws, ready_task(ws), actor="alice", reason="after the backup")
    before, backups = snapshot(ws), sorted(ws.backups_dir.iterdir())
    with pytest.raises(StateError, match="the backup cannot be restored, so nothing was changed") as caught:
        restore(ws, made.path)
    assert message in caught.value.message
    assert snapshot(ws) == before and sorted(ws.backups_dir.iterdir()) == backups  # not even a new backup


@pytest.mark.parametrize(
    ("name", "broken", "says"),
    [
        ("tasks/{tid}.yaml", b"id: [\n", "not valid YAML"),
        ("escalations.yaml", b"escalations: []\nbogus: 1\n", "bogus"),
        ("refiled.yaml", b"refiled: [\n", "not valid YAML"),
    ],
)
def test_a_backup_whose_files_do_not_parse_is_refused(
    ws: Workspace, name: str, broken: bytes, says: str
) -> None:
    import hashlib
    import json

    tid = ready_task(ws)
    made = backup(ws)
    name = name.format(tid=tid)
    (made.path / name).write_bytes(broken)  # consistent with its manifest: only parsing finds it
    manifest = json.loads((made.path / MANIFEST).read_text())
    manifest["files"][name] = hashlib.sha256(broken).hexdigest()
    (made.path / MANIFEST).write_text(json.dumps(manifest))
    before = snapshot(ws)
    with pytest.raises(StateError) as caught:
        restore(ws, made.path)
    assert f"{ws.rel(made.path)}/{name}" in caught.value.message and says in caught.value.message
    assert snapshot(ws) == before


def test_a_backup_behind_the_audit_trail_is_refused(ws: Workspace) -> None:
    tid = ready_task(ws)
    made = backup(ws)
    actions.transition(ws, tid, "start", actor="alice")
    before = snapshot(ws)
    with pytest.raises(StateError) as caught:
        restore(ws, made.path)
    assert f"{tid} in the backup has 2 events, but its audit trail holds later ones" in caught.value.message
    assert snapshot(ws) == before


def test_the_commands(ws: Workspace, cli) -> None:
    ready_task(ws)
    made = cli("state", "backup")
    files = len(state_files(ws.state_dir))
    assert made.exit_code == 0 and made.stdout.startswith(
        f"Backed up {files} state file(s) to backups/state-"
    )
    name = made.stdout.split(" to ")[1].split(" ")[0]
    done = cli("state", "restore", name)
    assert done.exit_code == 0 and f"from {name}; the state before it is kept in {name}-2." in done.stdout
    missing = cli("state", "restore", "backups/nope")
    assert missing.exit_code == 1 and "backups/nope: no such backup folder" in missing.stderr


def test_plain_init_on_a_damaged_workspace_says_so_and_repair_rebuilds_the_index(ws: Workspace, cli) -> None:
    tid = ready_task(ws)
    ws.index_file.write_text("tasks: [broken\n")
    plain = cli("init", str(ws.root))
    assert plain.exit_code == 1 and "the workspace's state is damaged" in plain.stderr
    assert "fix: run `aios init --repair`" in plain.stderr
    fixed = cli("init", "--repair", str(ws.root))
    assert fixed.exit_code == 0, fixed.output
    assert "  repaired: state/tasks.yaml (rebuilt from state/tasks/)" in fixed.stdout
    assert "every state file is valid" in fixed.stdout
    ws.task_file(tid).write_text("id: [\n")
    left = cli("init", "--repair", str(ws.root))
    assert left.exit_code == 1 and "  nothing to rebuild\n" in left.stdout
    assert f"not repaired: state/tasks/{tid}.yaml:2: this is not valid YAML" in left.stderr
