"""Members through the service every entry point calls: owners only, the last owner kept, all logged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, PermissionDenied
from orchestrator.governance import members
from orchestrator.governance.members import git_email, identify
from orchestrator.state.project import ROLES, Level, load_project
from orchestrator.state.workspace import Workspace


def log_lines(ws: Workspace) -> list[str]:
    return [line for line in ws.governance_log.read_text().splitlines() if line.startswith("- ")]


def test_an_owner_adds_changes_and_removes_a_member(ws: Workspace) -> None:
    added = members.add(ws, "carol", "lead", actor="alice", email="carol@example.com")
    assert (added.kind, added.member.level, added.before) == ("added", Level.LEAD, None)
    assert load_project(ws.project_file).member("carol") == added.member
    assert ws.project.level("carol") is Level.LEAD  # the workspace reads the new file

    changed = members.add(ws, "carol", "platform", actor="alice")
    assert changed.kind == "changed" and changed.before == added.member
    assert changed.member.email == "carol@example.com"  # no --email keeps the one recorded

    assert members.add(ws, "carol", "platform", actor="alice").kind == "unchanged"
    removed = members.remove(ws, "carol", actor="alice", reason="moved\nteams")
    assert (removed.kind, removed.member.role) == ("removed", "platform")
    assert load_project(ws.project_file).member("carol") is None

    lines = log_lines(ws)
    assert [line.split(" · ", 1)[1] for line in lines] == [
        "alice (human) · member add carol: lead (L2) <carol@example.com>",
        "alice (human) · member change carol: lead (L2) <carol@example.com> → "
        "platform (L1) <carol@example.com>",
        "alice (human) · member remove carol: platform (L1) · moved teams",
    ]  # nothing changed, nothing logged; a reason cannot start a line of its own


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        ("bob", "bob (L3 human operator) may not manage the project's members: it needs an L0 project owner"),
        ("mallory", "'mallory' is not a member of this project, so may not manage the project's members"),
        ("agent:builder", "agent:builder is an agent, and an agent acts only through a live session"),
    ],
)
def test_only_an_owner_manages_members_and_each_refusal_is_logged(
    ws: Workspace, actor: str, message: str
) -> None:
    before = ws.project_file.read_text()
    with pytest.raises(PermissionDenied) as err:
        members.add(ws, "eve", "owner", actor=actor)
    assert err.value.message == message
    assert ws.project_file.read_text() == before
    assert log_lines(ws)[-1].endswith(
        f"violation · by {actor} · refused ({err.value.rule}): member add eve --role owner: {message}"
    )


@pytest.mark.parametrize("level", ["platform", "lead"])
def test_levels_below_the_owner_cannot_remove_members(ws: Workspace, level: str) -> None:
    members.add(ws, "pat", level, actor="alice")
    with pytest.raises(PermissionDenied, match=f"pat \\(L{ROLES[level]} [a-z ]+\\) may not manage"):
        members.remove(ws, "bob", actor="pat")
    assert ws.project.member("bob") is not None


def test_the_last_owner_can_be_neither_removed_nor_demoted(ws: Workspace) -> None:
    with pytest.raises(PermissionDenied) as err:
        members.remove(ws, "alice", actor="alice")
    assert err.value.message == (
        "alice is the last project owner (L0), and a project needs one: alice cannot be removed"
    )
    assert err.value.fix == "add another owner first (`aios member add NAME --role owner`)"
    with pytest.raises(PermissionDenied, match="alice cannot become lead"):
        members.add(ws, "alice", "lead", actor="alice")
    assert "refused (last-owner): member remove alice" in log_lines(ws)[-2]

    members.add(ws, "dana", "owner", actor="alice")  # with a second owner, either may go
    members.add(ws, "alice", "lead", actor="dana")
    members.remove(ws, "alice", actor="dana")
    assert [m.name for m in ws.project.owners()] == ["dana"]


def test_bad_input_names_the_field(ws: Workspace) -> None:
    cases = [
        (
            lambda: members.add(ws, "eve", "boss", actor="alice"),
            "role",
            "use one of owner, platform, lead, operator",
        ),
        (lambda: members.add(ws, "agent:x", "lead", actor="alice"), "name", "give another name"),
        (lambda: members.add(ws, "eve\nx", "lead", actor="alice"), "name", "give another name"),
        (lambda: members.add(ws, "eve", "lead", actor="alice", email="no"), "email", "give another email"),
        (lambda: members.remove(ws, "nobody", actor="alice"), "name", "`aios member list` shows the members"),
    ]
    for call, field, fix in cases:
        with pytest.raises(ConfigError) as err:
            call()
        assert (err.value.field, err.value.fix and err.value.fix.split(" (")[0]) == (
            field,
            fix.split(" (")[0],
        )


def test_an_email_identifies_one_member(ws: Workspace) -> None:
    members.add(ws, "bob", "operator", actor="alice", email="bob@example.com")
    with pytest.raises(ConfigError, match="the email 'BOB@example.com' already identifies member 'bob'"):
        members.add(ws, "carol", "lead", actor="alice", email="BOB@example.com")


def test_a_v1_project_file_is_rewritten_by_the_next_change(ws: Workspace) -> None:
    ws.project_file.write_text(
        "# ours\nschema_version: 1\nname: demo\nmembers:\n- {name: alice, roles: [project_owner]}\n"
        "roles: {project_owner: [approve_task, unblock, merge, lock_queue, unlock_queue, freeze]}\n"
        "queues: {dev: {max_concurrent: 1}}\n"
    )
    change = members.add(ws, "alice", "owner", actor="alice")
    assert (change.kind, change.migrated) == ("unchanged", True)
    assert ws.project_file.read_text() == (
        "# ours\nschema_version: 2\nname: demo\nmembers:\n- name: alice\n  role: owner\n"
        "queues: {dev: {max_concurrent: 1}}\n"
    )
    assert log_lines(ws)[-1].endswith("state/project.yaml rewritten from schema_version 1 to 2")


# --- identity --------------------------------------------------------------------------------------------


def test_identify_maps_git_email_to_a_member(ws: Workspace) -> None:
    members.add(ws, "bob", "operator", actor="alice", email="bob@example.com")
    members.add(ws, "carol@example.com", "lead", actor="alice")
    project = ws.project
    assert identify(project, "Bob@Example.com", "root") == "bob"  # by email
    assert identify(project, "carol@example.com", "root") == "carol@example.com"  # by name
    assert identify(project, "stranger@example.com", "alice") == "alice"  # a member's login name
    assert (
        identify(project, "stranger@example.com", "root") == "stranger@example.com"
    )  # no member: refused later
    assert identify(project, None, "root") == "root"
    assert identify(None, "x@example.com", "root") == "x@example.com"


def test_git_email_reads_the_repository_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))  # the machine's own ~/.gitconfig does not count
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert git_email(repo) is None
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "dev@example.com"], check=True)
    assert git_email(repo) == "dev@example.com"
    assert git_email(tmp_path / "gone") is None  # git cannot run there
