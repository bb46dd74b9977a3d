"""Round-2 prompt size: incremental re-review (delta + open findings) versus a full re-review.

Builds the real reviewer prompts (``round.change_text`` + ``reviewer.prompt_for``) for a
400-line change whose round 2 fixes two findings, and prints the prompt tokens of both (estimated
at 4 characters a token, the usual rule for English and code) and their ratio.

    python bench/bench_rereview.py [--smoke]

``--smoke`` changes nothing: the workload is already a few seconds (accepted so CI runs every
benchmark alike).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from orchestrator import resources
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.personas import load_dimensions, load_persona
from orchestrator.review.reviewer import Panel, prompt_for
from orchestrator.review.round import change_text, round_inputs
from orchestrator.sandbox import git
from orchestrator.state.taskcard import Criterion, TaskCard, render


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        (root / "README.md").write_text("x\n")
        git.commit_all(root, "base")
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
        panel = Panel(
            template=resources.data_file("prompts", "review.md").read_text(encoding="utf-8"),
            dimensions=load_dimensions(),
            personas=[load_persona("security_expert")],
            models={},
            card=render(card),
        )
        findings = [
            Finding(
                dimension=Dimension.QUALITY,
                severity=Severity.CRITICAL,
                file="store.py",
                line=3 + 9 * i,
                rule="S608",
                message="SQL built from input",
                source="ruff",
            )
            for i in range(5)
        ]
        rereview = round_inputs(wt, base=base, head=round2, since=round1, previous=findings)
        incremental = _prompt(panel, change_text(rereview, Dimension.QUALITY))
        full = _prompt(panel, change_text(round_inputs(wt, base=base, head=round2), Dimension.QUALITY))
        lines = sum(len(f.changed_lines) for f in rereview.diff)
        print(f"change: {lines} added lines; round 2 fixes 2 of 5 findings")
        print(f"{'prompt':<28}{'tokens (est.)':>14}")
        print(f"{'full re-review (baseline)':<28}{full // 4:>14}")
        print(f"{'incremental re-review':<28}{incremental // 4:>14}")
        print(f"ratio incremental / full: {incremental / full:.2f}   (aim <= 0.5)")


def _prompt(panel: Panel, change: str) -> int:
    return len(prompt_for(Dimension.QUALITY, panel.personas[0], panel, change, "(evidence)"))


if __name__ == "__main__":
    main()
