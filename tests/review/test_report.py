"""The round report files: the latest one is read back; a damaged one is a clear error, not a traceback."""

from __future__ import annotations

import pytest

from orchestrator.errors import StateError
from orchestrator.review.report import latest_report
from orchestrator.state.workspace import Workspace


def _write(ws: Workspace, name: str, text: str) -> str:
    folder = ws.reviews_dir("TASK_DEV_0001")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return ws.rel(folder / name)


def test_no_report_is_none(ws: Workspace) -> None:
    assert latest_report(ws, "TASK_DEV_0001") is None


def test_a_report_that_is_not_json_names_the_file_the_line_and_the_fix(ws: Workspace) -> None:
    rel = _write(ws, "round-1.json", '{"task": "TASK_DEV_0001",\n  "round": \n')
    with pytest.raises(StateError) as caught:
        latest_report(ws, "TASK_DEV_0001")
    err = caught.value
    assert err.file == rel and err.line == 3
    assert err.message.startswith("the review report is not valid JSON (")
    assert err.fix is not None and f"git checkout -- {rel}" in err.fix
    assert "aios review submit TASK_DEV_0001" in err.fix


def test_a_report_missing_fields_names_the_field(ws: Workspace) -> None:
    _write(ws, "round-1.json", '{"task": "TASK_DEV_0001"}\n')
    with pytest.raises(StateError) as caught:
        latest_report(ws, "TASK_DEV_0001")
    assert caught.value.message.startswith("the review report is damaged: ")
    assert caught.value.field is not None and "pydantic" not in caught.value.render()


def test_only_round_files_count_and_the_highest_round_is_read(ws: Workspace) -> None:
    _write(ws, "round-x.json", "not a round")  # not `round-<N>.json`: ignored, not a crash
    _write(ws, "round-2.json", "{")
    _write(ws, "round-10.json", "{")
    with pytest.raises(StateError) as caught:
        latest_report(ws, "TASK_DEV_0001")
    assert caught.value.file is not None and caught.value.file.endswith("round-10.json")
