"""`state/project.yaml`: the defaults `aios init` writes, and the errors a bad file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import StateError
from orchestrator.state.project import Permission, Project, default_project, load_project


def test_the_default_project_gives_its_owner_every_permission() -> None:
    project = Project.model_validate(default_project("demo", "alice"))
    assert project.permissions("alice") == set(Permission)
    assert project.permissions("mallory") == set()  # not a member: no permission at all
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
