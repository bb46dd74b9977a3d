"""``cli._lazy``: command modules load when one of their commands runs; plain options skip pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import new_task
from typer.testing import CliRunner

from orchestrator.cli import _lazy
from orchestrator.cli.app import app
from orchestrator.state.workspace import Workspace


def test_the_table_names_every_command_its_module_registers() -> None:
    registered = {
        name: module for module in set(_lazy.COMMANDS.values()) for name in _lazy.module_commands(module)
    }
    assert registered == _lazy.COMMANDS


def test_help_lists_the_commands_in_the_table_s_order() -> None:
    text = CliRunner().invoke(app, ["--help"]).stdout
    section = text.partition("Commands:\n")[2].partition("\n\n")[0]
    assert [line.split()[0] for line in section.splitlines()] == list(_lazy.COMMANDS)


def test_a_command_imports_its_own_module_and_no_other_command_s() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from orchestrator.cli.app import app\n"
        "CliRunner().invoke(app, ['task', '--help'])\n"
        "names = [m for m in sys.modules if m.startswith('orchestrator.cli.')]\n"
        "print(sorted(m for m in names if not m[17:].startswith('_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['orchestrator.cli.app', 'orchestrator.cli.task']"


def test_options_still_get_typer_s_coercion_and_checks(ws: Workspace, cli, tmp_path: Path) -> None:
    elsewhere = cli("--root", str(tmp_path), "task", "list")  # a Path option, coerced without pydantic
    assert elsewhere.exit_code == 1 and f"no aios workspace at {tmp_path}" in elsewhere.output
    tid = new_task(ws)
    out_of_range = cli("task", "triage", tid, "--priority", "9")  # a ranged int: typer's own check
    assert (
        out_of_range.exit_code == 2
        and "Invalid value for '--priority'" in out_of_range.output  # typer's words vary by version
        and "5" in out_of_range.output
    )
    assert cli("task", "triage", tid, "--priority", "2").exit_code == 0
    assert cli("-vv", "task", "list").exit_code == 0  # a count option
