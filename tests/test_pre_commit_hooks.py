"""The pre-commit hook in ``.pre-commit-hooks.yaml`` validates TaskCards and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orchestrator.state.taskcard import TASK_ID, task_id

HOOKS = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"
pytestmark = pytest.mark.skipif(
    not HOOKS.is_file(), reason="needs the source checkout (the suite also runs against an installed wheel)"
)


@pytest.fixture
def files() -> re.Pattern[str]:
    """The hook's ``files`` pattern; pre-commit ``re.search``-es it against repository-relative paths."""
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    hook = hooks["aios-taskcard"]
    assert hook["id"] == "aios-taskcard"
    return re.compile(hook["files"])


CARDS = ["tasks/inbox/TASK_DEV_0001.md", f"tasks/inbox/{task_id('ops', 12345)}.md", "tasks/TASK_Q2_0042.md"]
IDS = ["TASK_DEV_0001", "TASK_A1_99999", "TASK_dev_0001", "TASK_DEV_001", "TASK__0001", "TASK_1A_0001"]


@pytest.mark.parametrize("path", CARDS)
def test_the_hook_takes_taskcards(files: re.Pattern[str], path: str) -> None:
    assert files.search(path)


@pytest.mark.parametrize(
    "path",
    [
        "tasks/README.md",
        "tasks/inbox/README.md",
        "tasks/inbox/notes.md",
        "tasks/inbox/TASK_DEV_0001.md.orig",
        "tasks/inbox/TASK_DEV_0001.yaml",
        "docs/tasks/inbox/TASK_DEV_0001.md",
        "state/tasks/TASK_DEV_0001.md",
    ],
)
def test_the_hook_leaves_other_files_alone(files: re.Pattern[str], path: str) -> None:
    assert not files.search(path)


@pytest.mark.parametrize("card_id", IDS)
def test_the_hook_and_the_card_id_rule_agree(files: re.Pattern[str], card_id: str) -> None:
    assert bool(files.search(f"tasks/inbox/{card_id}.md")) == bool(TASK_ID.match(card_id))


def test_the_push_hook_checks_spec_and_state_and_agrees_with_aios_hooks_install() -> None:
    from orchestrator.governance.hooks import CARD_PATTERN

    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert list(hooks) == ["aios-taskcard", "aios-spec"]
    spec = hooks["aios-spec"]
    assert spec["stages"] == ["pre-push"] and spec["pass_filenames"] is False
    assert "aios gate check --gate spec" in spec["entry"] and "aios state check" in spec["entry"]
    assert hooks["aios-taskcard"]["files"] == CARD_PATTERN  # the git hook stages the same files
