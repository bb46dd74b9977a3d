"""The offline demo: a TaskCard goes through the whole governed loop on a throwaway repository.

Round 1 the builder agent writes a user lookup that builds SQL from its input and adds no test;
the evidence and the security persona catch it (NEEDS_REVISION). Round 2 it fixes both
(APPROVED). A human approves at the checkpoint and the change is merged; the audit trail closes it.

By default the model turns come from ``data/demo.jsonl``, recorded from ``performer`` below
(``python -m orchestrator.workflow.demo --record`` rewrites it). Commit dates are fixed so every run makes
the same commits, and the same prompts, as the recording.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator import resources
from orchestrator._text import visible
from orchestrator.errors import AiosError
from orchestrator.governance import actions, agents, sessions
from orchestrator.sandbox import git
from orchestrator.state.setup import init
from orchestrator.state.taskcard import Criterion, RoleMode, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.status import RunStatus

RECORDING = resources.SHIPPED_ROOT / "demo.jsonl"
HUMAN = "demo-lead"
FIXED_DATE = "2026-01-01T09:00:00+00:00"

SEED = {
    "src/__init__.py": "",
    "src/users.py": (
        '"""A tiny user store."""\n\nimport sqlite3\n\n\n'
        'def connect(path: str = ":memory:") -> sqlite3.Connection:\n'
        "    conn = sqlite3.connect(path)\n"
        '    conn.execute("CREATE TABLE users (name TEXT PRIMARY KEY, email TEXT)")\n'
        "    return conn\n"
    ),
    "tests/__init__.py": "",
    "tests/test_users.py": (
        "from src.users import connect\n\n\n"
        "def test_connect_creates_the_table():\n"
        '    assert connect().execute("SELECT count(*) FROM users").fetchone() == (0,)\n'
    ),
}

LOOKUP_UNSAFE = (
    "\n\ndef find_email(conn: sqlite3.Connection, name: str) -> str | None:\n"
    "    row = conn.execute(f\"SELECT email FROM users WHERE name = '{name}'\").fetchone()\n"
    "    return row[0] if row else None\n"
)
LOOKUP_SAFE = (
    "\n\ndef find_email(conn: sqlite3.Connection, name: str) -> str | None:\n"
    '    row = conn.execute("SELECT email FROM users WHERE name = ?", (name,)).fetchone()\n'
    "    return row[0] if row else None\n"
)
LOOKUP_TESTS = (
    "\n\ndef test_find_email_returns_the_email_or_none():\n"
    "    from src.users import find_email\n\n"
    "    conn = connect()\n"
    "    conn.execute(\"INSERT INTO users VALUES ('ada', 'ada@example.com')\")\n"
    '    assert find_email(conn, "ada") == "ada@example.com"\n'
    '    assert find_email(conn, "nobody") is None\n'
    "    assert find_email(conn, \"x' OR '1'='1\") is None\n"
)


def card() -> TaskCard:
    """The demo's TaskCard."""
    return TaskCard(
        id="TASK_DEV_0000",
        title="Look up a user's email by name",
        queue="dev",
        priority=2,
        acceptance_criteria=[
            Criterion(
                id="AC1",
                text="find_email(conn, name) returns the email, or None for an unknown name",
                check="python -m pytest -q tests",
            ),
            Criterion(id="AC2", text="A name containing quotes cannot change the query"),
        ],
        personas=["security_expert"],
        paths=["src/", "tests/"],
        body="Support needs to find a user's email from their name.\n",
    )


def run(
    folder: Path,
    *,
    say: Callable[[str], None],
    approve: Callable[[RunStatus], bool],
    model: str | None = None,
    record: Path | None = None,
    sandbox: bool = True,
) -> int:
    """Play the demo in the empty folder ``folder``; returns the exit code."""
    with _fixed_commit_dates():
        return _play(folder, say=say, approve=approve, model=model, record=record, sandbox=sandbox)


@contextmanager
def _fixed_commit_dates() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
    os.environ.update(dict.fromkeys(saved, FIXED_DATE))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _play(
    folder: Path,
    *,
    say: Callable[[str], None],
    approve: Callable[[RunStatus], bool],
    model: str | None,
    record: Path | None,
    sandbox: bool,
) -> int:
    ws = _workspace(folder)
    say(f"$ aios init                 → workspace at {ws.root}")
    tid = actions.create_task(ws, card(), actor=HUMAN).id
    say(f"$ aios task new            → {tid}: {card().title}")
    builder = agents.register(ws, "builder-1", role_modes=[RoleMode.BUILDER], queues=["dev"], actor=HUMAN)
    work, _ = sessions.create(
        ws, agent_id=builder.id, role_mode=RoleMode.BUILDER, task_scope=[tid], actor=HUMAN
    )
    say(f"$ aios agent register / session create → {builder.actor}, builder session {work.id} on {tid}")
    _refused(
        say,
        "the agent tries to approve its own task",
        lambda: actions.transition(ws, tid, "approve", actor=builder.actor, session=work),
    )
    actions.transition(ws, tid, "approve", actor=HUMAN)
    actions.transition(ws, tid, "start", actor=builder.actor, session=work)
    say(f"$ aios task approve/start  → {HUMAN} approves; {builder.actor} starts it (running)")
    say(f"$ aios review run {tid} --model {model or 'replay:<shipped recording>'}")
    options = RunOptions(model=model or f"replay:{RECORDING}", record=record, sandbox=sandbox)
    result = runs.run(ws, tid, options, actor=HUMAN, progress=lambda line: say("  " + line.strip()))
    _show_rounds(ws, tid, say)
    if result.waiting_for != "human_review":
        say(f"The run stopped: {result.waiting_for or result.status}; {'; '.join(result.reasons)}")
        return 1
    _static_review_of_round_one(ws, tid, say, sandbox=sandbox)
    reviewer = agents.register(ws, "reviewer-1", role_modes=[RoleMode.REVIEWER], queues=["dev"], actor=HUMAN)
    review, _ = sessions.create(
        ws, agent_id=reviewer.id, role_mode=RoleMode.REVIEWER, task_scope=[tid], actor=HUMAN
    )
    _refused(
        say,
        "a reviewer agent tries to merge",
        lambda: runs.answer(ws, tid, "approve", actor=reviewer.actor, session=review),
    )
    if not approve(result):
        say(f"Left at the human checkpoint: `aios --root {ws.root} review approve {tid}` merges it.")
        return 0
    merging = RunOptions(model=options.model, sandbox=sandbox)  # a merge records no model turns
    done = runs.answer(ws, tid, "approve", actor=HUMAN, options=merging)
    say(f"$ aios review approve {tid} → merged into main as {str(done.merged)[:10]}; {done.status}")
    say(f"\n$ cat ops/audit/{tid}.md")
    say(visible(ws.audit_file(tid).read_text(encoding="utf-8").rstrip(), keep="\n"))
    return 0 if done.status == "done" else 1


def _workspace(folder: Path) -> Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    git.run(folder, "init", "-q", "-b", "main")
    for rel, text in SEED.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    git.commit_all(folder, "A tiny user store")
    ws, _ = init(folder, owner=HUMAN)
    return ws


def _show_rounds(ws: Workspace, tid: str, say: Callable[[str], None]) -> None:
    from orchestrator.review.report import RoundReport

    for path in sorted(ws.reviews_dir(tid).glob("round-*.json")):
        report = RoundReport.model_validate_json(path.read_text(encoding="utf-8"))
        say(
            f"  ── round {report.round}: {report.verdict.value} ({len(report.findings)} findings, "
            f"{len(report.resolved)} fixed since the last round) → {ws.rel(path.with_suffix('.md'))}"
        )
        for f in report.findings:
            say(f"     {f.severity.value:<8} {f.dimension.value} {f.summary(dimension=False)[:110]}")


def _static_review_of_round_one(
    ws: Workspace, tid: str, say: Callable[[str], None], *, sandbox: bool
) -> None:
    """The same round-1 commit under `--reviewer static`: evidence alone, no model call."""
    from orchestrator.review.report import RoundReport, report_paths
    from orchestrator.review.round import review_static
    from orchestrator.workflow.wiring import SandboxRunners

    first = RoundReport.model_validate_json(report_paths(ws, tid, 1)[1].read_text())
    folder = ws.root / ".aios" / "static-demo"
    git.run(ws.root, "worktree", "add", "-q", "--detach", str(folder), first.head)
    try:
        report = review_static(
            folder,
            base=first.base,
            head=first.head,
            runners=SandboxRunners(folder, sandbox),
            criteria=card().acceptance_criteria,
        )
    finally:
        git.run(ws.root, "worktree", "remove", "--force", str(folder))
    say(f"$ aios review run {tid} --builder external --reviewer static   (round 1's commit, no model)")
    say(
        f"  {report.verdict.value}: "
        + ", ".join(
            f"{f.rule} at {f.file}:{f.line}" if f.line else str(f.rule)
            for f in report.findings
            if f.severity.value != "info"
        )
    )


def _refused(say: Callable[[str], None], what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except AiosError as exc:
        say(f"  {what}: refused ({exc.message})")
    else:
        raise AssertionError(f"{what} should have been refused")


# ---- the scripted performer whose turns the shipped recording holds ----


def performer(messages: list[Any], info: Any) -> Any:
    """Plays builder and reviewer deterministically, as a real model would in this scenario."""
    from orchestrator.llm.fake import tool_call

    if info.output is not None:
        return _review(messages)
    prompt = "\n".join(m.content for m in messages if m.role == "user")
    done = [m for m in messages if m.role == "tool"]
    second = "# Round 1\n" not in prompt  # a revision round: address the findings
    if done:
        return tool_call(
            "finish", summary="parameterised the query and added tests" if second else "added find_email"
        )
    if second:
        return [
            tool_call("write_file", path="src/users.py", content=SEED["src/users.py"] + LOOKUP_SAFE),
            tool_call(
                "write_file", path="tests/test_users.py", content=SEED["tests/test_users.py"] + LOOKUP_TESTS
            ),
        ]
    return tool_call("write_file", path="src/users.py", content=SEED["src/users.py"] + LOOKUP_UNSAFE)


def _review(messages: list[Any]) -> dict[str, Any]:
    text = messages[-1].content if messages else ""
    unsafe = "WHERE name = '{name}'" in text and "WHERE name = ?" not in text
    unsafe = unsafe and "Security expert" in text and "**Quality**" in text
    if not unsafe:
        return {"findings": []}
    return {
        "findings": [
            {
                "severity": "critical",
                "file": "src/users.py",
                "line": 13,
                "message": "The query is built with an f-string from `name`: SQL injection (CWE-89).",
                "suggestion": "Pass the name as a parameter: conn.execute('... WHERE name = ?', (name,)).",
            }
        ]
    }


def record_demo(folder: Path) -> None:
    """Re-record ``data/demo.jsonl`` from ``performer`` (run after changing prompts or the scenario)."""
    from orchestrator.llm.fake import FakeModel, install_fake

    RECORDING.unlink(missing_ok=True)
    with install_fake(FakeModel(performer)):
        code = run(folder, say=print, approve=lambda result: True, model="fake", record=RECORDING)
    if code != 0:
        raise SystemExit(f"recording failed (exit {code})")


if __name__ == "__main__":
    import sys
    import tempfile

    if sys.argv[1:] == ["--record"]:
        record_demo(Path(tempfile.mkdtemp(prefix="aios-demo-record-")))
