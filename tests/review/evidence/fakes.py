"""Shared by the collector tests: a one-file diff, a context for it, a fake runner, a ruff line."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.review.diff import parse_diff
from orchestrator.review.evidence import EvidenceContext
from orchestrator.review.settings import EvidenceSettings
from orchestrator.sandbox.bwrap import CommandResult

NEW_FILE = parse_diff(
    "diff --git a/app/x.py b/app/x.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/x.py\n"
    "@@ -0,0 +1,3 @@\n+import os\n+x = 1\n+y = 2\n"
)


def fake(
    stdout: str = "", returncode: int | None = 0, stderr: str = "", timed_out: bool = False
) -> Callable[[Sequence[str]], CommandResult]:
    """A runner whose every command ends the same way, for when the tool's behaviour is the point."""

    def run(argv: Sequence[str]) -> CommandResult:
        if "--output-file" in argv:  # ruff: its report goes to the file, as the real tool does
            Path(argv[list(argv).index("--output-file") + 1]).write_text(stdout)
            return CommandResult(tuple(argv), returncode, "", stderr, 0.01, timed_out=timed_out)
        return CommandResult(tuple(argv), returncode, stdout, stderr, 0.01, timed_out=timed_out)

    return run


def ctx_for(worktree: Path, diff=NEW_FILE, **kwargs) -> EvidenceContext:
    return EvidenceContext(worktree, diff, EvidenceSettings(), **kwargs)


def ruff_line(rule: str, row: int, path: str = "/wt/app/x.py") -> str:
    loc = {"row": row, "column": 1}
    return json.dumps(
        {"code": rule, "filename": path, "location": loc, "end_location": loc, "message": "msg"}
    )
