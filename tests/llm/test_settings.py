"""workflows/models.yaml: patterns, precedence, workspace override, errors with file and line."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.llm import settings_for
from orchestrator.llm.settings import load_models_file


def test_shipped_file_is_valid():
    assert "openai-compatible:*" in load_models_file().models


def test_specific_entries_win_over_patterns():
    smol = settings_for("openai-compatible:smollm2")
    other = settings_for("openai-compatible:qwen")

    assert (smol.structured, smol.max_tokens, smol.temperature) == ("json_mode", 256, 0)
    assert (other.max_tokens, other.timeout_s, other.retry.attempts) == (4096, 300, 3)
    assert not other.api_key_required and other.base_url_env == "AIOS_BASE_URL"


def test_provider_defaults_hold_without_any_entry(workspace):
    (workspace / "workflows" / "models.yaml").write_text("schema_version: 1\n")

    s = settings_for("anthropic:claude-x", workspace=workspace)

    assert (s.api_key_env, s.base_url_env, s.structured) == (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "json_schema",
    )


def test_nested_retry_settings_merge(workspace):
    (workspace / "workflows" / "models.yaml").write_text(
        "models:\n  '*': {retry: {attempts: 2, jitter_s: 0}}\n  'openai:x': {retry: {attempts: 5}}\n"
    )
    retry = settings_for("openai:x", workspace=workspace).retry

    assert (retry.attempts, retry.jitter_s, retry.max_wait_s) == (5, 0, 30)


def test_unknown_field_names_file_field_and_line(workspace):
    (workspace / "workflows" / "models.yaml").write_text("models:\n  'openai:*':\n    structure: json_mode\n")

    with pytest.raises(ConfigError) as caught:
        settings_for("openai:x", workspace=workspace)

    err = caught.value
    assert err.file.endswith("workflows/models.yaml") and err.line == 3
    assert err.field == "models.openai:*.structure" and err.message == "unknown field"


def test_bad_mechanism_is_explained(workspace):
    (workspace / "workflows" / "models.yaml").write_text("models:\n  'openai:*': {structured: xml}\n")

    with pytest.raises(ConfigError) as caught:
        settings_for("openai:x", workspace=workspace)
    assert "json_schema" in caught.value.fix
