"""Round-2 prompt size: incremental re-review (delta + open findings) versus a full re-review.

Builds the real reviewer prompts (``pipeline._model_review`` + ``reviewer.prompt_for``) for a
400-line change whose round 2 fixes two findings, and prints the prompt tokens of both (estimated
at 4 characters a token, the usual rule for English and code) and their ratio.

    python bench/bench_rereview.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from orchestrator.review.diff import git_diff
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.reviewer import prompt_for
from orchestrator.review.settings import ReviewSettings
from orchestrator.sandbox import git
from orchestrator.state.setup import init
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.workflow.graph import RunContext
from orchestrator.workflow.settings import WorkflowSettings
from orchestrator.workflow.wiring import _model_review


def module(n_funcs: int, fixed: bool) -> str:
    body = []
    for i in range(n_funcs):
        query = (
            '"SELECT * FROM t WHERE id = ?", (key,)'
            if fixed and i < 2
            else 'f"SELECT * FROM t WHERE id = {key}"'
        )
        body.append(
            f'def lookup_{i}(conn, key):\n    """Row {i}."""\n    rows = conn.execute({query})\n'
            f"    total = 0\n    for row in rows:\n        total += row[0]\n    return total + {i}\n\n"
        )
    return "".join(body)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        (root / "README.md").write_text("x\n")
        git.commit_all(root, "base")
        ws, _ = init(root, owner="bench")
        wt = git.ensure_worktree(root, "TASK_DEV_0001", "main")
        base = git.head(wt)
        (wt / "store.py").write_text(module(50, fixed=False))
        round1 = git.commit_all(wt, "round 1")
        (wt / "store.py").write_text(module(50, fixed=True))
        round2 = git.commit_all(wt, "round 2")
        card = TaskCard(
            id="TASK_DEV_0001",
            title="Lookups",
            queue="dev",
            personas=["security_expert"],
            acceptance_criteria=[Criterion(id="AC1", text="lookups work")],
        )
        ctx = RunContext(
            ws=ws,
            card=card,
            workflow=WorkflowSettings(),
            builder=None,
            check=None,  # type: ignore[arg-type]
            aggregate=None,
        )  # type: ignore[arg-type]
        findings = [
            Finding(
                dimension=Dimension.QUALITY,
                severity=Severity.CRITICAL,
                file="store.py",
                line=3 + 9 * i,
                rule="S608",
                message="SQL built from input",
                source="ruff",
            ).model_dump(mode="json")
            for i in range(5)
        ]
        diff = git_diff(wt, base, round2)
        state = {"round": 2, "base": base, "head": round2, "last_reviewed": round1, "findings": findings}
        incremental = _prompt(ctx, state, diff)
        full = _prompt(ctx, {**state, "round": 1, "last_reviewed": None}, diff)
        lines = sum(len(f.changed_lines) for f in diff)
        print(f"change: {lines} added lines; round 2 fixes 2 of 5 findings")
        print(f"{'prompt':<28}{'tokens (est.)':>14}")
        print(f"{'full re-review (baseline)':<28}{full // 4:>14}")
        print(f"{'incremental re-review':<28}{incremental // 4:>14}")
        print(f"ratio incremental / full: {incremental / full:.2f}   (aim <= 0.5)")


def _prompt(ctx: RunContext, state: dict, diff) -> int:  # type: ignore[no-untyped-def,type-arg]
    review = _model_review(ctx, state, Dimension.QUALITY, diff, ReviewSettings())  # type: ignore[arg-type]
    return len(prompt_for(Dimension.QUALITY, review.personas[0], review, "(evidence)"))


if __name__ == "__main__":
    main()
