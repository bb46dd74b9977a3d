"""The graph's sections of workflows/pair_programming.yaml: the builder's settings and limits."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.sandbox.bwrap import Limits
from orchestrator.workflow.settings import BuilderSettings, WorkflowSettings, load_workflow, parse_workflow


def test_the_builder_section_is_the_builder_settings_and_its_limits_the_sandbox_limits() -> None:
    settings = parse_workflow("builder:\n  max_steps: 5\n  limits:\n    max_processes: 64\n", file="w.yaml")
    assert WorkflowSettings.model_fields["builder"].annotation is BuilderSettings
    assert type(settings.builder.limits) is Limits  # run_command takes it as it is, no conversion
    assert settings.builder == BuilderSettings(max_steps=5, limits=Limits(max_processes=64))
    assert load_workflow().builder == BuilderSettings()  # the shipped file states the defaults


def test_an_unknown_limit_names_file_line_and_the_known_limits() -> None:
    text = "builder:\n  limits:\n    timeout_s: 60\n    max_memroy_bytes: 1\n"
    with pytest.raises(ConfigError) as info:
        parse_workflow(text, file="workflows/pair_programming.yaml")
    assert info.value.render() == (
        "workflows/pair_programming.yaml:4: builder.limits.max_memroy_bytes: unknown field\n"
        "  fix: remove the field or correct its spelling: use one of timeout_s, cpu_s, max_file_bytes, "
        "max_output_bytes, max_processes, max_memory_bytes, max_disk_bytes"
    )


def test_a_bad_limit_in_the_file_names_its_line_and_in_code_its_field() -> None:
    with pytest.raises(ConfigError) as info:
        parse_workflow("builder:\n  limits:\n    cpu_s: 0\n", file="w.yaml")
    assert (info.value.file, info.value.line, info.value.field) == ("w.yaml", 3, "builder.limits.cpu_s")
    with pytest.raises(ConfigError) as info:
        Limits(cpu_s=0)
    assert (info.value.file, info.value.field) == (None, "cpu_s")


def test_running_unsandboxed_is_no_workflow_file_setting() -> None:
    # Only the user's explicit --no-sandbox turns the sandbox off, for one run.
    with pytest.raises(ConfigError) as info:
        parse_workflow("builder:\n  sandbox: false\n", file="w.yaml")
    assert (info.value.line, info.value.field) == (2, "builder.sandbox")
    assert "unknown field" in info.value.message
