"""Workspace file I/O: a failed write leaves the old file and no temporary file; OS errors read clearly."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from orchestrator import _files
from orchestrator._files import append_text, atomic_write, make_dirs, read_text
from orchestrator.errors import ConfigError, StateError


def _raise(code: int):
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


def test_a_full_disk_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "tasks.yaml"
    target.write_text("old\n")
    monkeypatch.setattr(_files.os, "fsync", _raise(errno.ENOSPC))
    with pytest.raises(StateError) as caught:
        atomic_write(target, "new\n")
    assert caught.value.render() == (
        f"{target}: cannot write this file: the disk is full\n"
        f"  fix: free some space on the disk holding {tmp_path}, "
        "then run the command again (nothing was changed)"
    )
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.yaml"]


def test_a_read_only_folder_is_named_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "mkstemp", _raise(errno.EROFS))
    with pytest.raises(StateError) as caught:
        atomic_write(tmp_path / "x.yaml", "new\n")
    assert "cannot write this file: the file system is read-only" in caught.value.render()
    assert (
        caught.value.fix
        == f"aios writes to the workspace: remount {tmp_path} read-write, or work in a writable clone"
    )


def test_a_folder_in_place_of_the_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "sessions.yaml").mkdir()
    with pytest.raises(StateError, match="this is a folder, but aios keeps a file here"):
        atomic_write(tmp_path / "sessions.yaml", "x\n")
    with pytest.raises(ConfigError, match="this is a folder"):
        read_text(tmp_path / "sessions.yaml", error=ConfigError)
    assert [p.name for p in tmp_path.iterdir()] == ["sessions.yaml"]


def test_a_short_append_is_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_files.os, "write", lambda fd, data: len(data) - 1)
    with pytest.raises(StateError, match="the disk is full"):
        append_text(tmp_path / "audit.md", "a line\n")


def test_make_dirs_names_a_file_standing_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "ops").write_text("")
    with pytest.raises(StateError, match="a file stands where aios expects a folder"):
        make_dirs(tmp_path / "ops" / "audit")


def test_read_text_names_bytes_that_are_not_utf8_and_passes_a_missing_file_on(tmp_path: Path) -> None:
    path = tmp_path / "project.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(StateError) as caught:
        read_text(path, file="state/project.yaml")
    assert caught.value.render() == (
        "state/project.yaml: this is not UTF-8 text (invalid continuation byte at byte 9)\n"
        "  fix: save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or restore it from git"
    )
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "missing.yaml")
