"""`state/project.yaml`: authority levels, the defaults `aios init` writes, version 1 files, writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import StateError
from orchestrator.state.project import (
    HEADER,
    ROLES,
    Level,
    Member,
    Project,
    default_project,
    load_project,
    parse_project,
    project_text,
    update_project,
)


def test_the_default_project_makes_its_creator_the_owner() -> None:
    project = Project.model_validate(default_project("demo", "alice"))
    assert project.level("alice") is Level.OWNER
    assert project.level("mallory") is None  # not a member: no authority at all
    assert project.queues["governance"].requires_human_approval is True


def test_a_missing_project_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(StateError) as err:
        load_project(tmp_path / "project.yaml")
    assert err.value.message == "the project file is missing"
    assert err.value.fix == "run `aios init` here"


def test_a_member_with_an_undefined_role_is_named(tmp_path: Path) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(
        "name: demo\nmembers:\n- {name: bob, roles: [wizard]}\nroles: {owner: [merge]}\n"
        "queues: {dev: {max_concurrent: 1}}\n"
    )
    with pytest.raises(StateError, match="member 'bob' has role 'wizard', which is not defined under roles"):
        load_project(path)


# --- authority levels ----------------------------------------------------------------------------------


V2 = """\
schema_version: 2
name: demo
members:
- {name: alice, role: owner, email: Alice@Example.com}
- {name: pat, role: platform}
- {name: lee, role: lead}
- {name: bob, role: operator}
queues: {dev: {max_concurrent: 1}}
"""


def test_levels_order_authority_and_each_role_has_one() -> None:
    assert [ROLES[r] for r in ("owner", "platform", "lead", "operator")] == [0, 1, 2, 3]
    assert Level.OWNER < Level.PLATFORM < Level.LEAD < Level.OPERATOR  # lower is more authority
    assert [level.label for level in Level] == ["L0", "L1", "L2", "L3"]
    assert [level.role for level in Level] == list(ROLES)
    assert Member(name="x", role="lead").level is Level.LEAD


@pytest.mark.parametrize(
    ("name", "level"),
    [("alice", Level.OWNER), ("pat", Level.PLATFORM), ("lee", Level.LEAD), ("bob", Level.OPERATOR)],
)
def test_each_member_has_the_level_of_their_role(name: str, level: Level) -> None:
    project = parse_project(V2, file="project.yaml")
    assert project.level(name) is level
    assert project.level("mallory") is None


def test_members_are_found_by_name_and_by_email_without_case() -> None:
    project = parse_project(V2, file="project.yaml")
    assert project.member_by_email("alice@example.COM") == project.member("alice")
    assert project.member_by_email("bob@example.com") is None
    assert [m.name for m in project.owners()] == ["alice"]
    assert project.read_version == 2


@pytest.mark.parametrize(
    ("member", "field", "message"),
    [
        (
            "{name: eve, role: boss}",
            "members[1].role",
            "unknown role 'boss': use one of owner, platform, lead, operator",
        ),
        ("{name: 'agent:x', role: lead}", "members[1].name", "`agent:` names agents"),
        ("{name: eve, role: lead, email: nope}", "members[1].email", "'nope' is not an email address"),
        ("{name: eve, role: lead, roles: [lead]}", "members[1].roles", "unknown field"),
        ("{name: alice, role: lead}", "members", "two members have the name 'alice'"),
        ("{name: eve, role: lead, email: ALICE@example.com}", "members", "two members have the email"),
    ],
)
def test_a_bad_member_names_its_field(tmp_path: Path, member: str, field: str, message: str) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(
        f"schema_version: 2\nname: demo\nmembers:\n- {{name: alice, role: owner, email: alice@example.com}}\n"
        f"- {member}\nqueues: {{dev: {{max_concurrent: 1}}}}\n"
    )
    with pytest.raises(StateError) as err:
        load_project(path)
    assert err.value.field == field
    assert message in err.value.message


def test_a_v2_file_keeps_no_roles_table(tmp_path: Path) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(V2 + "roles: {owner: [merge]}\n")
    with pytest.raises(StateError) as err:
        load_project(path)
    assert (err.value.field, err.value.message, err.value.line) == ("roles", "unknown field", 9)


# --- schema_version 1 files ----------------------------------------------------------------------------

V1 = """\
name: demo
members:
- {name: alice, roles: [project_lead, project_owner]}
- {name: pat, roles: [platform_engineer]}
- {name: lee, roles: [project_lead, human_operator]}
- {name: bob, roles: [human_operator]}
roles:
  project_owner: [approve_task, unblock, merge, lock_queue, unlock_queue, freeze]
  platform_engineer: [approve_task, unblock, merge, lock_queue, unlock_queue]
  project_lead: [approve_task, unblock, merge, lock_queue]
  human_operator: [approve_task, unblock, lock_queue]
queues: {dev: {max_concurrent: 1}}
"""


@pytest.mark.parametrize("version_line", ["", "schema_version: 1\n"])
def test_a_v1_file_is_migrated_on_read_each_member_at_their_highest_authority(version_line: str) -> None:
    project = parse_project(version_line + V1, file="project.yaml")
    assert project.read_version == 1
    assert {m.name: m.role for m in project.members} == {
        "alice": "owner",  # project_lead and project_owner: the owner's authority wins
        "pat": "platform",
        "lee": "lead",
        "bob": "operator",
    }
    assert project.level("pat") is Level.PLATFORM


def test_the_v1_file_aios_init_wrote_is_read_without_its_table() -> None:
    text = "schema_version: 1\nname: demo\nmembers:\n- name: alice\n  roles:\n  - project_owner\n"
    text += "queues: {dev: {max_concurrent: 1}}\n"
    assert parse_project(text, file="p.yaml").level("alice") is Level.OWNER


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "message"),
    [
        (
            "  project_lead: [approve_task, unblock, merge, lock_queue]\n",
            "  project_lead: [approve_task, merge]\n",
            "roles.project_lead",
            10,
            "project_lead has a custom permission list; in schema_version 2 each level's permissions are "
            "fixed (project_lead becomes lead: approve_task, lock_queue, merge, unblock)",
        ),
        (
            "  human_operator: [approve_task, unblock, lock_queue]\n",
            "  human_operator: [approve_task, unblock, lock_queue]\n  auditor: [approve_task]\n",
            "roles.auditor",
            12,
            "the custom role 'auditor' cannot be expressed in schema_version 2",
        ),
        (
            "- {name: bob, roles: [human_operator]}\n",
            "- {name: bob, roles: [auditor]}\n",
            "members[3].roles",
            6,
            "member 'bob' has role 'auditor', which is not defined under roles (known: project_owner, "
            "platform_engineer, project_lead, human_operator)",
        ),
        (
            "- {name: bob, roles: [human_operator]}\n",
            "- {name: bob, roles: []}\n",
            "members[3].roles",
            6,
            "non-empty",
        ),
    ],
)
def test_a_v1_file_with_custom_roles_is_refused_with_the_v2_shape(
    tmp_path: Path, old: str, new: str, field: str, line: int, message: str
) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(V1.replace(old, new))
    with pytest.raises(StateError) as err:
        load_project(path)
    assert (err.value.field, err.value.line) == (field, line)
    assert message in err.value.message
    assert err.value.file == str(path)
    assert err.value.fix is not None
    assert err.value.fix.startswith("rewrite the file as schema_version 2: delete the `roles:` table")
    assert "`- {name: alice, role: owner}`" in err.value.fix


@pytest.mark.parametrize(("value", "fix"), [("3", "upgrade aios"), ("two", "set `schema_version: 2`")])
def test_an_unknown_schema_version_is_refused(tmp_path: Path, value: str, fix: str) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(
        f"name: demo\nschema_version: {value}\nmembers: []\nqueues: {{dev: {{max_concurrent: 1}}}}\n"
    )
    with pytest.raises(StateError) as err:
        load_project(path)
    assert (err.value.field, err.value.line) == ("schema_version", 2)
    assert err.value.fix is not None and err.value.fix.startswith(fix)


# --- writing -------------------------------------------------------------------------------------------


def test_a_write_keeps_comments_outside_members(tmp_path: Path) -> None:
    text = "# our project\nschema_version: 2\nname: demo  # shown in reports\nmembers:\n"
    text += "- {name: alice, role: owner}  # founder\n\n# queues: tune these\nqueues:\n"
    text += "  dev: {max_concurrent: 1}  # one at a time\n"
    project = parse_project(text, file="p.yaml")
    added = project.model_validate(
        project.data() | {"members": [*project.data()["members"], {"name": "bob", "role": "lead"}]}
    )
    assert project_text(added, previous=text) == (
        "# our project\nschema_version: 2\nname: demo  # shown in reports\nmembers:\n"
        "- name: alice\n  role: owner\n- name: bob\n  role: lead\n\n# queues: tune these\nqueues:\n"
        "  dev: {max_concurrent: 1}  # one at a time\n"
    )


def test_a_v1_file_is_rewritten_as_v2_keeping_its_comments(tmp_path: Path) -> None:
    path, lock = tmp_path / "project.yaml", tmp_path / ".lock"
    path.write_text("# ours\nschema_version: 1\n" + V1)
    before, after = update_project(path, lock, lambda project: None)
    assert (before.read_version, after.members) == (1, before.members)
    written = path.read_text()
    assert written.startswith(
        "# ours\nschema_version: 2\nname: demo\nmembers:\n- name: alice\n  role: owner\n"
    )
    assert "roles" not in written
    assert load_project(path).read_version == 2


def test_a_file_the_splice_cannot_handle_is_written_afresh_under_the_header(tmp_path: Path) -> None:
    text = "{schema_version: 2, name: demo, members: [{name: alice, role: owner}],\n"
    text += " queues: {dev: {max_concurrent: 1}}}\n"
    project = parse_project(text, file="p.yaml")
    written = project_text(project, previous=text)
    assert written.startswith(HEADER)
    assert parse_project(written, file="p.yaml") == project


def test_an_update_that_raises_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(V1)

    def refuse(project: Project) -> Project:
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        update_project(path, tmp_path / ".lock", refuse)
    assert path.read_text() == V1
