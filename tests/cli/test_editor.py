"""The $EDITOR path of `task new`: a filled template becomes a card, a broken draft is kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orchestrator.cli._editor import card_from_editor
from orchestrator.errors import AiosError
from orchestrator.state.workspace import Workspace

FILL = """\
import sys, pathlib
p = pathlib.Path(sys.argv[1])
t = p.read_text().replace('title: ""', 'title: "From the editor"', 1).replace('text: ""', 'text: "{text}"', 1)
p.write_text(t)
"""


def _editor(tmp_path: Path, text: str) -> str:
    script = tmp_path / "fake_editor.py"
    script.write_text(FILL.replace("{text}", text))
    return f"{sys.executable} {script}"


def test_editor_template_becomes_a_card(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "It works"))
    card = card_from_editor(ws)
    assert card.title == "From the editor"
    assert card.acceptance_criteria[0].text == "It works"
    assert card.queue == "dev"


def test_a_broken_draft_is_kept_and_named(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", _editor(tmp_path, ""))  # leaves the criterion text empty
    with pytest.raises(AiosError) as err:
        card_from_editor(ws)
    assert "your draft is kept" in err.value.fix
    draft = Path(str(err.value.file))
    assert draft.is_file() and "From the editor" in draft.read_text()
