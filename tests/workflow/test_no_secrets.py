"""Six planted secrets never reach a file aios writes, a prompt or a command's stdout.

The secrets sit in the change's code (written by the builder agent), in the TaskCard (title,
body, criterion), in a check command's output, in what the model answers, in the builder's
summary (the commit message) and in a human's feedback. One review runs end to end: agent
builder, model reviewer (a fake that keeps every prompt), recording on, an escalation and a
rejection. Then every product file, the commit messages, every prompt and four commands' stdout
are searched for each secret.

The secrets are assembled at run time so this file does not trip secret scanners.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import run_aios

from orchestrator.governance import actions
from orchestrator.llm.base import ChatRequest, Message
from orchestrator.llm.fake import FakeInfo, FakeModel, install_fake, tool_call
from orchestrator.llm.replay import close_recorder
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.taskcard import Criterion, TaskCard, render
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs
from orchestrator.workflow.options import RunOptions

SANDBOX = bwrap_available()

SECRETS = {
    "openai": "sk-" + "proj-" + "Q7vN2kLm9xR4tW8zB3cH6jP1sD5fG0aE",
    "anthropic": "sk-" + "ant-api03-" + "Xy8Lm2Nq5Rt7Vw9Zb4Cd6Fg1Hj3Kp0Ms-AbCdEf",
    "aws_key_id": "AKIA" + "Q3MZ7XK2LP9RT4WB",
    "aws_secret": "Zk8/Qm2Lp7Rt4Vw8Ys3Kd6Hf1" + "Jn5Bx9Cg2Tv7Wq+P",
    "github": "ghp_" + "R8mK2pX7vQ4nL9wT3zB6cY1hJ5sD0fG8aE2u",
    "password": "Tr0ub4dor" + "&3xplode!",
    "generic": "Zx9Qm2Lp" + "7Rt4Vw8Ys3Kd6Hf1",
}
S = SECRETS

CREDS = (
    f'OPENAI_KEY = "{S["openai"]}"\n'
    f'CLAUDE = "{S["anthropic"]}"\n'
    f'AWS_ACCESS_KEY_ID = "{S["aws_key_id"]}"\n'
    f'AWS_SECRET_ACCESS_KEY = "{S["aws_secret"]}"\n'
    f'GITHUB = "{S["github"]}"\n'
    f'SESSION_SALT = "{S["generic"]}"\n'
)
# The password is only ever printed by the check (the source holds it reversed).
CREDS_TEST = (
    "def test_login():\n"
    f'    print("PASSWORD: " + "".join(reversed({S["password"][::-1]!r})))\n'
    f'    print("aws_secret_access_key = {S["aws_secret"]}")\n'
    "    assert False, 'login failed'\n"
)
CHECK = "python -m pytest -q tests/test_creds.py"
FINDING_WORDS = "hard-codes the production credentials"


def make_card(ws: Workspace) -> tuple[str, Path]:
    card = TaskCard(
        id="TASK_DEV_0000",
        title=f"Wire the client with {S['github']}",
        queue="dev",
        body=f"Use {S['openai']} and {S['aws_key_id']} for now.\n",
        personas=["security_expert"],
        acceptance_criteria=[
            Criterion(id="AC1", text=f"logs in with {S['anthropic']} and salt {S['generic']}", check=CHECK)
        ],
    )
    card_file = ws.root / "cards" / "TASK_DEV_0000.md"  # the user's own file: aios only reads it
    card_file.parent.mkdir()
    card_file.write_text(render(card))
    (ws.root / "README.md").write_text("demo\n")
    git.commit_all(ws.root, "seed")
    tid = tasks.create(ws, card, actor="alice", card_file=card_file).id
    actions.transition(ws, tid, "approve", actor="alice")
    actions.transition(ws, tid, "start", actor="alice", reason=f"go, the key is {S['openai']}")
    return tid, card_file


def scripted(messages: list[Message], info: FakeInfo) -> Any:
    """The builder writes the secrets and checks; the reviewers quote them back."""
    if info.output is not None:  # a reviewer
        prompt = "\n".join(m.content for m in messages)
        if "(R):" in prompt:
            return f"LGTM, ship it with {S['anthropic']}"  # garbage: the R check errors, the round blocks
        return {
            "findings": [
                {
                    "severity": "critical",
                    "file": "src/creds.py",
                    "line": 1,
                    "message": f"{FINDING_WORDS}: {S['openai']} and {S['aws_secret']}",
                    "suggestion": f"rotate {S['github']}; PASSWORD: {S['password']}",
                }
            ]
        }
    done = sum(1 for m in messages if m.role == "tool")
    script = [
        tool_call("write_file", path="src/__init__.py", content=""),
        tool_call("write_file", path="src/creds.py", content=CREDS),
        tool_call("write_file", path="tests/__init__.py", content=""),
        tool_call("write_file", path="tests/test_creds.py", content=CREDS_TEST),
        tool_call("run_check", command="pytest -q tests/test_creds.py"),
    ]
    if done < len(script) and not any("round 2" in m.content.lower() for m in messages[:2]):
        return script[done]
    return tool_call("finish", summary=f"Added creds ({S['openai']}, salt {S['generic']})")


def prompt_text(request: ChatRequest) -> str:
    return json.dumps(request.model_dump(mode="json"))


def product_files(ws: Workspace, card_file: Path) -> dict[str, bytes]:
    """Every file aios wrote in the workspace: not the task's code (the change) nor git's objects."""
    skip = (ws.root / ".git", git.worktree_path(ws.root, "TASK_DEV_0000"))
    files = {}
    for path in ws.root.rglob("*"):
        if path.is_file() and path != card_file and not any(path.is_relative_to(s) for s in skip):
            files[str(path.relative_to(ws.root))] = path.read_bytes()
    return files


@pytest.mark.skipif(not SANDBOX, reason="the builder's checks need bubblewrap")
def test_planted_secrets_are_never_stored_printed_or_sent(ws: Workspace, tmp_path: Path) -> None:
    tid, card_file = make_card(ws)
    recording = ws.root / "ops" / "recordings" / "run.jsonl"
    with install_fake(FakeModel(scripted)) as fake:
        first = runs.run(
            ws, tid, RunOptions(builder_mode="agent", reviewer_mode="model", record=recording), actor="alice"
        )
        assert first.waiting_for == "escalation", first  # R's garbage blocked the round
        second = runs.answer(
            ws,
            tid,
            "reject",
            actor="alice",
            feedback=f"never commit {S['aws_secret']}",
            options=RunOptions(record=recording),
        )
    close_recorder(recording)

    # The run did what the test needs: secrets found, the check printed the password, two rounds.
    report = json.loads((ws.root / "ops" / "reviews" / tid / "round-1.json").read_text())
    assert {f["rule"] for f in report["findings"]} >= {"secret"}
    assert any("PASSWORD: " in e["output_tail"] for e in report["evidence"])
    assert second.round == 2 and second.waiting_for == "escalation"
    worktree = git.worktree_path(ws.root, tid)
    assert S["openai"] in (worktree / "src" / "creds.py").read_text()  # the change itself keeps them
    assert any("PASSWORD" in prompt_text(r) for r in fake.requests)  # the check output reached the model

    stored = product_files(ws, card_file)
    assert {"state/checkpoints.sqlite", f"ops/audit/{tid}.md", f"state/tasks/{tid}.yaml"} <= set(stored)
    assert f"ops/reviews/{tid}/round-1.md" in stored and "ops/recordings/run.jsonl" in stored
    log = ["git", "-C", str(ws.root), "log", "--format=%B", "--all"]
    messages = subprocess.run(log, capture_output=True, text=True, check=True).stdout
    assert "round 1: Added creds" in messages
    prompts = "\n".join(prompt_text(r) for r in fake.requests)
    stdout = {
        " ".join(args): run_aios("--root", str(ws.root), *args, cwd=ws.root).stdout
        for args in (
            ["review", "status", tid, "--json"],
            ["review", "show", tid],
            ["task", "status", tid, "--json"],
            ["task", "status", tid],
        )
    }
    assert all(stdout.values()), stdout
    assert "src/creds.py" in stdout[f"review show {tid}"]  # the diff was shown, masked

    places = {**{f"file {k}": v.decode("utf-8", "replace") for k, v in stored.items()}}
    places |= {"commit messages": messages, "prompts": prompts}
    places |= {f"stdout of aios {k}": v for k, v in stdout.items()}
    leaks = [
        (kind, where) for kind, secret in SECRETS.items() for where, text in places.items() if secret in text
    ]
    assert leaks == []
    # The append-only trail references findings; it never quotes them.
    assert FINDING_WORDS not in stored[f"ops/audit/{tid}.md"].decode()
    assert f"see ops/reviews/{tid}/round-1.md" in stored[f"ops/audit/{tid}.md"].decode()
