"""One command runner: evidence commands go through the injected ``Runner``, which is `run_command`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import plain_runner

from orchestrator.review import evidence as ev


def test_the_test_runner_is_the_sandbox_runner_without_bubblewrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_TEST_LEAK", "caller-only")
    code = "import os; print(os.environ.get('AIOS_TEST_LEAK'))"
    result = plain_runner(tmp_path, 10)(["python", "-c", code])
    # run_command's marks: unsandboxed, and the clean environment it gives every command.
    assert (result.ok, result.sandboxed, result.stdout) == (True, False, "None\n")


def test_the_review_layer_starts_no_process_of_its_own() -> None:
    """Evidence commands go through an injected runner (`run_command`), never a runner of their own."""
    review = Path(ev.__file__).resolve().parents[1]
    starts = re.compile(r"^\s*(import|from)\s+subprocess\b|\bos\.(system|popen|exec\w*|spawn\w*)\(", re.M)
    assert [p.relative_to(review) for p in review.rglob("*.py") if starts.search(p.read_text())] == []
