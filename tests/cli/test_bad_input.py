"""Bad input and a hostile environment, through the real ``aios`` console script.

Each case breaks one file (or the disk) the way a new user might, runs one command in a
subprocess and expects the same answer: exit 1, one clear paragraph naming the file and a
``fix:`` line, no traceback and no crash log, and every workspace file byte for byte as it was.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import git_repo, plain_git, run_aios

from orchestrator.governance import actions
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace

TID = "TASK_DEV_0001"
NOT_UTF8 = b"\n# caf\xe9 \xff\n"  # Latin-1 bytes: not UTF-8


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (outside .git) -> its sha256; a folder -> ``"dir"``.

    A task's run lock (``state/.run-<ID>.lock``) is left out: an empty file that holds no data,
    created by whichever command takes the lock first.
    """
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or (rel.parent == Path("state") and rel.name.startswith(".run-")):
            continue
        found[str(rel)] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def refused(result: subprocess.CompletedProcess[str], *, names: str) -> str:
    """Assert the command failed as a user error that names ``names`` and says how to fix it."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert names in result.stderr, result.stderr
    assert "\n  fix: " in result.stderr, result.stderr
    return result.stderr


def add_task(ws: Workspace, *, check: str | None = "pytest -q") -> str:
    card = TaskCard(
        id="TASK_DEV_0000",
        title="Do a thing",
        queue="dev",
        acceptance_criteria=[Criterion(id="AC1", text="it works", check=check)],
    )
    return tasks.create(ws, card, actor="alice").id


@pytest.fixture
def task(ws: Workspace) -> str:
    """A task in the inbox of ``ws``."""
    return add_task(ws)


@pytest.fixture
def started(ws: Workspace) -> str:
    """A running task, in a repository with a commit on ``main``."""
    (ws.root / "README.md").write_text("hello\n")
    plain_git(ws.root, "add", "README.md")
    plain_git(ws.root, "commit", "-q", "-m", "first")
    tid = add_task(ws)
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice")
    return tid


def unchanged_after(
    ws: Workspace, *args: str, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``aios args`` in ``ws`` and assert no workspace file changed."""
    before = snapshot(ws.root)
    result = _run(ws.root, *args, timeout=timeout)
    assert snapshot(ws.root) == before
    return result


def _run(cwd: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    if timeout is None:
        return run_aios(*args, cwd=cwd)
    # run_aios has no timeout: the alias bomb hung forever before it was refused.
    env = {**os.environ, "AIOS_ACTOR": "alice"}
    argv = [sys.executable, "-m", "orchestrator", *args]
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def append_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(path.read_bytes() + data)


# ---- files that are not UTF-8 ----


@pytest.mark.parametrize(
    ("rel", "args"),
    [
        ("state/project.yaml", ("task", "approve", TID)),
        ("state/tasks.yaml", ("task", "list")),
        (f"state/tasks/{TID}.yaml", ("task", "status", TID)),
        (f"state/tasks/{TID}.yaml", ("task", "approve", TID)),
        (f"tasks/inbox/{TID}.md", ("task", "validate")),
    ],
)
def test_a_state_or_card_file_that_is_not_utf8_is_named(
    ws: Workspace, task: str, rel: str, args: tuple[str, ...]
) -> None:
    append_bytes(ws.root / rel, NOT_UTF8)
    err = refused(unchanged_after(ws, *args), names=rel)
    assert "this is not UTF-8 text" in err
    assert "fix: save the file as UTF-8" in err


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("workflows/pair_programming.yaml", b"rounds:\n  max: 3\n"),
        ("workflows/models.yaml", b"models: {}\n"),
        ("personas/security_expert.yaml", b"name: security_expert\n"),
        ("prompts/review.md", b"Review this.\n"),
    ],
)
def test_a_workflow_persona_or_prompt_override_that_is_not_utf8_fails_state_check(
    ws: Workspace, rel: str, text: bytes
) -> None:
    (ws.root / rel).parent.mkdir(exist_ok=True)
    (ws.root / rel).write_bytes(text + NOT_UTF8)
    err = refused(unchanged_after(ws, "state", "check"), names=rel)
    assert "this is not UTF-8 text" in err


def test_a_workflow_file_that_is_not_utf8_stops_a_review_run_before_it_starts(
    ws: Workspace, started: str
) -> None:
    (ws.root / "workflows").mkdir()
    (ws.root / "workflows/pair_programming.yaml").write_bytes(b"rounds:\n  max: 3\n" + NOT_UTF8)
    refused(
        unchanged_after(ws, "review", "run", started, "--no-sandbox"), names="workflows/pair_programming.yaml"
    )
    assert not ws.checkpoints_db.exists()


# ---- a folder where a file belongs ----


def test_sessions_yaml_that_is_a_folder_is_reported_by_state_check(ws: Workspace) -> None:
    ws.sessions_file.unlink()
    ws.sessions_file.mkdir()
    err = refused(unchanged_after(ws, "state", "check"), names="state/sessions.yaml")
    assert "this is a folder, but aios keeps a file here" in err
    assert "mv state/sessions.yaml state/sessions.yaml.bak" in err


@pytest.mark.parametrize(
    "args",
    [("task", "approve", TID), ("task", "new", "--queue", "dev", "--title", "T", "--criterion", "c")],
)
def test_a_state_lock_that_is_a_folder_is_named(ws: Workspace, task: str, args: tuple[str, ...]) -> None:
    ws.state_lock.unlink(missing_ok=True)
    ws.state_lock.mkdir()
    err = refused(unchanged_after(ws, *args), names="state/.lock")
    assert "this is a folder, but aios keeps a file here" in err


# ---- a garbage checkpoint database ----


@pytest.mark.parametrize("command", ["status", "run"])
def test_a_garbage_checkpoint_database_is_refused_with_the_way_out(
    ws: Workspace, started: str, command: str
) -> None:
    ws.checkpoints_db.write_bytes(b"not a database " * 100)
    args = ("review", command, started, *(("--no-sandbox",) if command == "run" else ()))
    err = refused(unchanged_after(ws, *args), names="state/checkpoints.sqlite")
    assert "not a readable SQLite database" in err
    assert (
        "fix: move it away (`mv state/checkpoints.sqlite state/checkpoints.sqlite.broken`); the run " in err
    )
    assert "restarts from the task's status" in err


# ---- a target branch that is gone ----


@pytest.mark.parametrize("command", ["run", "show"])
def test_a_target_branch_that_no_longer_exists_is_named_before_git_runs(
    ws: Workspace, started: str, command: str
) -> None:
    card = ws.inbox_dir / f"{started}.md"
    card.write_text(card.read_text().replace("target_branch: main", "target_branch: release-1"))
    args = ("review", command, started, *(("--no-sandbox",) if command == "run" else ()))
    err = refused(unchanged_after(ws, *args), names=f"tasks/inbox/{started}.md")
    assert "target_branch: the target branch 'release-1' does not exist" in err
    assert "git branch release-1 <commit>" in err
    assert not ws.checkpoints_db.exists() and not ws.worktree(started).exists()


# ---- unbalanced quotes in commands ----

QUOTE_FIX = "fix: balance the quotes: each ' or \" that opens must close"


def test_task_new_refuses_a_check_with_an_unbalanced_quote(ws: Workspace) -> None:
    result = unchanged_after(
        ws, "task", "new", "--queue", "dev", "--title", "T", "--criterion", "c", "--check", "pytest -k 'login"
    )
    err = refused(result, names="acceptance_criteria[0].check")
    assert "No closing quotation" in err and QUOTE_FIX in err


def test_task_validate_and_task_new_refuse_a_card_whose_check_has_an_unbalanced_quote(ws: Workspace) -> None:
    card = ws.inbox_dir / "draft.md"
    card.write_text(
        "---\nid: TASK_DEV_0007\ntitle: T\nqueue: dev\nacceptance_criteria:\n"
        '  - id: AC1\n    text: it works\n    check: pytest -k "login\n---\n'
    )
    for args in (("task", "validate", str(card)), ("task", "new", "--file", str(card))):
        err = refused(unchanged_after(ws, *args), names=f"{card}:8: acceptance_criteria[0].check")
        assert QUOTE_FIX in err
    assert not ws.task_file("TASK_DEV_0007").exists()


def test_an_unbalanced_quote_in_allowed_commands_is_a_config_error_at_load(
    ws: Workspace, started: str
) -> None:
    (ws.root / "workflows").mkdir()
    (ws.root / "workflows/pair_programming.yaml").write_text(
        'builder:\n  allowed_commands:\n    - pytest\n    - "python -c \'import x"\n'
    )
    where = "workflows/pair_programming.yaml:4: builder.allowed_commands[1]"
    assert QUOTE_FIX in refused(unchanged_after(ws, "state", "check"), names=where)
    refused(unchanged_after(ws, "review", "run", started, "--no-sandbox"), names=where)


# ---- a YAML alias bomb ----

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize("command", ["validate", "new"])
def test_a_yaml_alias_bomb_in_a_card_is_refused_at_once(ws: Workspace, command: str) -> None:
    card = ws.inbox_dir / "bomb.md"
    card.write_text(
        f"---\n{BOMB}id: TASK_DEV_0009\ntitle: [*i]\nqueue: dev\n"
        "acceptance_criteria: [{id: AC1, text: t}]\n---\n"
    )
    args = ("task", "validate", str(card)) if command == "validate" else ("task", "new", "--file", str(card))
    start = time.monotonic()
    err = refused(unchanged_after(ws, *args, timeout=30), names=f"{card}:3")
    assert time.monotonic() - start < 15  # 9**9 nodes if expanded: it hung before
    assert "YAML aliases are not allowed (*a)" in err


# ---- a read-only workspace and a full disk (real mounts: needs root) ----


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root and mount rights): {done.stderr.strip()}")


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` as a read-only bind mount of itself (chmod does not stop root)."""
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,bind,ro", str(folder))
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize(
    "args",
    [("task", "approve", TID), ("task", "new", "--queue", "dev", "--title", "T", "--criterion", "c")],
)
def test_a_read_only_workspace_is_refused_with_a_clear_error(
    ws: Workspace, task: str, args: tuple[str, ...]
) -> None:
    with read_only(ws.root):
        err = refused(unchanged_after(ws, *args), names="state/.lock")
    assert "the file system is read-only" in err and "remount" in err


def test_aios_init_in_a_read_only_repository_is_refused(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    with read_only(repo):
        err = refused(run_aios("init", cwd=repo), names=str(repo / "state"))
    assert "the file system is read-only" in err
    assert sorted(p.name for p in repo.iterdir()) == [".git"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs, unmounted after the test."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path) -> None:
    """Write to ``disk`` until it is full."""
    with (disk / "filler").open("wb") as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        with contextlib.suppress(OSError):
            fh.close()


@pytest.mark.parametrize(
    "args",
    [("task", "approve", TID), ("task", "new", "--queue", "dev", "--title", "T", "--criterion", "c")],
)
def test_a_full_disk_is_refused_and_leaves_every_file_as_it_was(
    small_disk: Path, args: tuple[str, ...]
) -> None:
    from orchestrator.state.setup import init

    ws, _ = init(git_repo(small_disk / "repo"), owner="alice")
    add_task(ws)
    fill(small_disk)
    with pytest.raises(OSError) as full:
        (small_disk / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    (small_disk / "probe").unlink(missing_ok=True)
    err = refused(unchanged_after(ws, *args), names=str(ws.root))
    assert "the disk is full" in err and "nothing was changed" in err
    assert not ws.journal_file.exists()
    assert [p.name for p in ws.state_dir.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("code", "words"), [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only")]
)
@pytest.mark.parametrize(
    "args",
    [("task", "approve", TID), ("task", "new", "--queue", "dev", "--title", "T", "--criterion", "c")],
)
def test_a_failing_write_changes_nothing_even_without_mount_rights(
    ws: Workspace,
    task: str,
    cli,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    words: str,
    args: tuple[str, ...],
) -> None:
    """The mounts above need root; here every file write fails in-process instead (``os.fsync``)."""

    def fail(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    before = snapshot(ws.root)
    monkeypatch.setattr(os, "fsync", fail)
    result = cli(*args)
    assert result.exit_code == 1
    assert f"cannot write this file: {words}" in result.stderr and "\n  fix: " in result.stderr
    assert snapshot(ws.root) == before
