"""`aios member add|list|remove` and who is acting: flags, output, JSON keys, exit codes, refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import git_repo
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.cli.member import RoleName
from orchestrator.state.project import ROLES
from orchestrator.state.workspace import Workspace


def test_the_role_choices_are_the_projects_roles() -> None:
    assert [r.value for r in RoleName] == list(ROLES)


def test_list_shows_each_member_with_role_and_level(cli) -> None:
    result = cli("member", "list")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "name   role      level  email\nalice  owner     L0     -\nbob    operator  L3     -\n"
    )
    listed = json.loads(cli("member", "list", "--json").stdout)
    assert listed == [
        {"name": "alice", "role": "owner", "level": "L0", "email": None},
        {"name": "bob", "role": "operator", "level": "L3", "email": None},
    ]


def test_an_owner_adds_changes_and_removes(cli, ws: Workspace) -> None:
    added = cli("member", "add", "carol", "--role", "lead", "--email", "carol@example.com")
    assert (added.exit_code, added.stdout) == (0, "added carol: lead (L2), email carol@example.com\n")
    changed = cli("member", "add", "carol", "--role", "platform", "--json")
    assert json.loads(changed.stdout) == {
        "change": "changed",
        "name": "carol",
        "role": "platform",
        "level": "L1",
        "email": "carol@example.com",
        "migrated": False,
    }
    same = cli("member", "add", "carol", "--role", "platform")
    assert same.stdout == "unchanged carol: platform (L1), email carol@example.com\n"
    removed = cli("member", "remove", "carol", "--reason", "left")
    assert (removed.exit_code, removed.stdout) == (
        0,
        "removed carol: platform (L1), email carol@example.com\n",
    )
    assert "carol" not in ws.project_file.read_text()
    assert "member remove carol: platform (L1) · left" in (ws.audit_dir / "governance.md").read_text()


def test_a_non_owner_is_refused_with_exit_1(cli, ws: Workspace) -> None:
    before = ws.project_file.read_text()
    result = cli("member", "add", "bob", "--role", "owner", actor="bob")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: bob (L3 human operator) may not manage the project's members: it needs an L0 project owner\n"
        "  fix: ask a member who is an L0 project owner (`aios member list` shows them)\n"
    )
    as_json = cli("member", "remove", "alice", "--json", actor="agent:builder")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"] == (
        "agent:builder is an agent, and an agent acts only through a live session"
    )
    assert ws.project_file.read_text() == before
    assert (
        "refused (authority-level): member add bob --role owner"
        in (ws.audit_dir / "governance.md").read_text()
    )


def test_the_last_owner_stays(cli) -> None:
    result = cli("member", "remove", "alice")
    assert result.exit_code == 1
    assert "alice is the last project owner (L0)" in result.stderr
    assert cli("member", "add", "alice", "--role", "operator").exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ("member", "add", "eve", "--role", "boss"),
        ("member", "add", "eve"),
        ("member", "remove"),
        ("member", "list", "--all"),
    ],
)
def test_usage_mistakes_exit_2(cli, args: tuple[str, ...]) -> None:
    assert cli(*args).exit_code == 2


def test_help_says_add_changes_an_existing_role(cli) -> None:
    text = " ".join(cli("member", "add", "--help").stdout.split())
    assert "change an existing member's role" in text and "last owner cannot be demoted" in text


def test_list_notes_a_v1_file_and_add_rewrites_it(cli, ws: Workspace) -> None:
    ws.project_file.write_text(
        "name: demo\nmembers:\n- {name: alice, roles: [project_owner]}\n"
        "roles: {project_owner: [approve_task, unblock, merge, lock_queue, unlock_queue, freeze]}\n"
        "queues: {dev: {max_concurrent: 1}}\n"
    )
    listed = cli("member", "list")
    assert listed.stdout == "name   role   level  email\nalice  owner  L0     -\n"
    assert listed.stderr == (
        "note: state/project.yaml is schema_version 1, read as version 2; "
        "the next `aios member add` or `remove` rewrites it as version 2\n"
    )
    added = cli("member", "add", "bob", "--role", "lead")
    assert added.stderr == "state/project.yaml rewritten as schema_version 2\n"
    assert ws.project_file.read_text().startswith("schema_version: 2\nname: demo\nmembers:\n")
    assert cli("member", "list").stderr == ""


def test_a_bad_email_is_a_user_error(cli) -> None:
    result = cli("member", "add", "eve", "--role", "lead", "--email", "not an email")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: email: 'not an email' is not an email address (one word with an @)\n"
        "  fix: give another email\n"
    )


# --- who is acting --------------------------------------------------------------------------------------


@pytest.fixture
def no_global_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the test repository's own git config counts, not this machine's ~/.gitconfig."""
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("USER", "tester")


def aios(*args: str, root: Path | None = None):
    """``aios`` in-process with no --actor or AIOS_ACTOR: identity comes from git or the login."""
    env = {"AIOS_ACTOR": None, "AIOS_ROOT": str(root) if root else None}
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def set_email(repo: Path, email: str) -> None:
    subprocess.run(["git", "-C", str(repo), "config", "user.email", email], check=True)


@pytest.mark.usefixtures("no_global_git")
def test_init_makes_git_user_email_the_owner_and_later_commands_act_as_them(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    set_email(repo, "dev@example.com")
    assert aios("init", str(repo)).exit_code == 0
    assert json.loads(aios("member", "list", "--json", root=repo).stdout) == [
        {"name": "dev@example.com", "role": "owner", "level": "L0", "email": "dev@example.com"}
    ]
    owner_adds = aios("member", "add", "bob", "--role", "lead", "--email", "bob@example.com", root=repo)
    assert owner_adds.exit_code == 0
    set_email(repo, "Bob@Example.com")  # now bob is at the keyboard: his entry's email names him
    made = aios("task", "new", "--queue", "dev", "--title", "T", "--criterion", "c", root=repo)
    assert made.exit_code == 0
    approved = aios("task", "approve", "TASK_DEV_0001", root=repo)
    assert approved.exit_code == 0
    assert "by bob (human)" in (repo / "ops/audit/TASK_DEV_0001.md").read_text()


@pytest.mark.usefixtures("no_global_git")
def test_an_email_no_member_has_is_refused_and_actor_wins(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert aios("--actor", "alice", "init", str(repo)).exit_code == 0
    set_email(repo, "stranger@example.com")
    refused = aios("member", "add", "eve", "--role", "lead", root=repo)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "error: 'stranger@example.com' is not a member of this project, "
        "so may not manage the project's members\n"
    )
    assert aios("--actor", "alice", "member", "add", "eve", "--role", "lead", root=repo).exit_code == 0


@pytest.mark.usefixtures("no_global_git")
def test_without_a_git_email_the_login_name_acts(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert aios("init", str(repo)).exit_code == 0
    assert json.loads(aios("member", "list", "--json", root=repo).stdout) == [
        {"name": "tester", "role": "owner", "level": "L0", "email": None}
    ]
    assert aios("member", "add", "eve", "--role", "lead", root=repo).exit_code == 0  # as tester, the owner


def test_the_actor_help_says_attribution_not_authentication() -> None:
    text = " ".join(CliRunner().invoke(app, ["--help"]).stdout.split())
    assert "Attribution, not authentication" in text and "session tokens" in text
