"""Importing the provider layer or its CLI module loads no SDK: the state commands must stay fast."""

from __future__ import annotations

import subprocess
import sys

import orchestrator.llm
import orchestrator.llm.fake

HEAVY = ("openai", "anthropic", "httpx2", "tenacity")


def test_no_sdk_is_imported_until_a_model_is_built():
    code = (
        "import sys, orchestrator.llm, orchestrator.llm.fake, orchestrator.cli.models; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_exported_members():
    for module in (orchestrator.llm, orchestrator.llm.fake):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
