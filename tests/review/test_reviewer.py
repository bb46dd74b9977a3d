"""The persona panel: a model finding with no file and line cannot block on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.llm import Message, get_model
from orchestrator.llm.fake import FakeInfo, FakeModel, install_fake
from orchestrator.review.diff import parse_diff
from orchestrator.review.findings import Dimension, Severity
from orchestrator.review.personas import load_dimensions, load_persona
from orchestrator.review.reviewer import Panel, ask_panel

DIFF = parse_diff(
    "diff --git a/app/x.py b/app/x.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/x.py\n"
    "@@ -0,0 +1,2 @@\n+import os\n+os.system(cmd)\n"
)


def test_unplaced_model_findings_are_capped_at_minor(tmp_path: Path) -> None:
    def persona(messages: list[Message], info: FakeInfo) -> dict[str, Any]:
        return {
            "findings": [
                {"severity": "critical", "message": "the design is insecure"},
                {"severity": "critical", "file": "app/x.py", "line": 2, "message": "shell injection"},
            ]
        }

    with install_fake(FakeModel(persona)):
        panel = Panel(
            template="$change",
            dimensions=load_dimensions(),
            personas=[load_persona("security_expert")],
            models={"security_expert": get_model("fake")},
            card="T1",
        )
        asked = ask_panel(panel, Dimension.QUALITY, diff=DIFF, evidence=[], worktree=tmp_path, change="x")
    assert [(f.message, f.severity) for f in asked.findings] == [
        ("the design is insecure", Severity.MINOR),
        ("shell injection", Severity.CRITICAL),
    ]
