"""The app: start-up stays light (state commands load neither the workflow nor an SDK)."""

from __future__ import annotations

import subprocess
import sys

from orchestrator.state.workspace import Workspace


def test_state_commands_do_not_import_the_workflow_or_sdk_stacks(ws: Workspace) -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from orchestrator.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['--root', {str(ws.root)!r}, 'task', 'list', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}\n"
        "               & {'langgraph', 'openai', 'anthropic', 'httpx2',"
        " 'tenacity', 'langchain_core', 'mcp', 'starlette', 'uvicorn'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
