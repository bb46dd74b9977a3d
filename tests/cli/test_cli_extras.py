"""The $EDITOR path of `task new`, and start-up staying light."""

from __future__ import annotations

import subprocess
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


def test_state_commands_do_not_import_the_workflow_or_sdk_stacks(ws: Workspace) -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from orchestrator.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['--root', {str(ws.root)!r}, 'task', 'list', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}\n"
        "               & {'langgraph', 'openai', 'anthropic', 'httpx2',"
        " 'tenacity', 'langchain_core'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_package_exports() -> None:
    import orchestrator

    assert orchestrator.__all__ == ["__version__"]
    assert orchestrator.__version__
