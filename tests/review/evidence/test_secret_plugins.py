"""Our own key detectors: the key shapes detect-secrets filters out are still found."""

from __future__ import annotations

from pathlib import Path

from helpers import plain_runner

from orchestrator.review.diff import parse_diff
from orchestrator.review.evidence.quality import secrets_check
from orchestrator.review.findings import Severity

from ..sample import ANTHROPIC_KEY, OPENAI_KEY
from .fakes import ctx_for


def test_our_key_detector_catches_what_detect_secrets_filters_out(tmp_path: Path) -> None:
    diff = parse_diff(
        "diff --git a/c.py b/c.py\nnew file mode 100644\n--- /dev/null\n+++ b/c.py\n@@ -0,0 +1,2 @@\n"
        f'+client = make("{OPENAI_KEY}")\n+other = make(key="{ANTHROPIC_KEY}")\n'
    )
    (tmp_path / "c.py").write_text(f'client = make("{OPENAI_KEY}")\nother = make(key="{ANTHROPIC_KEY}")\n')
    result = secrets_check(ctx_for(tmp_path, diff), plain_runner(tmp_path, 30))
    assert [(f.line, f.rule, f.severity) for f in result.findings] == [
        (1, "secret", Severity.CRITICAL),
        (2, "secret", Severity.CRITICAL),
    ]
    assert "OpenAI Project Key" in result.findings[0].message
    assert "Anthropic API Key" in result.findings[1].message
