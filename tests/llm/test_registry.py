"""Model strings and the choice of a model per role."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.llm import UnknownModel, choose_model, get_model, parse_spec


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("openai-compatible:qwen2.5:7b", ("openai-compatible", "qwen2.5:7b")),
        ("anthropic:claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
        ("replay:demo/run.jsonl", ("replay", "demo/run.jsonl")),
        ("fake", ("fake", "")),
        ("fake:reviewer", ("fake", "reviewer")),
    ],
)
def test_parse_spec(spec, parsed):
    assert parse_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["gpt-4o", "openai:", "ollama:llama3", ""])
def test_unknown_model_strings(spec):
    with pytest.raises(UnknownModel) as caught:
        parse_spec(spec)
    assert "openai-compatible:<model>" in caught.value.fix
    assert isinstance(caught.value, ConfigError)


def test_unknown_model_suggests_a_prefix():
    with pytest.raises(UnknownModel, match="not a model string; did you mean openai:gpt-4o"):
        get_model("gpt-4o")


WORKFLOW = {"builder": "openai:gpt-4o-mini", "*": "anthropic:claude-haiku-4-5"}
CARD = {"security_expert": "anthropic:claude-opus-4-1"}


@pytest.mark.parametrize(
    ("role", "cli", "expected"),
    [
        ("builder", None, "openai:gpt-4o-mini"),  # workflow
        ("security_expert", None, "anthropic:claude-opus-4-1"),  # card beats workflow
        ("testing_expert", None, "anthropic:claude-haiku-4-5"),  # workflow's "*"
        ("security_expert", "openai:gpt-4o", "openai:gpt-4o"),  # a plain cli string applies to every role
        ("builder", "builder=openai-compatible:qwen", "openai-compatible:qwen"),
        ("security_expert", "builder=openai-compatible:qwen", "anthropic:claude-opus-4-1"),
        ("reviewer", "builder=openai:a, openai:b", "openai:b"),  # an entry without role= is the cli default
    ],
)
def test_choose_model_precedence(role, cli, expected):
    assert choose_model(role, cli=cli, card=CARD, workflow=WORKFLOW, default="fake") == expected


def test_choose_model_default():
    assert choose_model("builder", default="openai:gpt-4o") == "openai:gpt-4o"


@pytest.mark.parametrize("cli", ["builder=", "=openai:x"])
def test_malformed_cli_choice(cli):
    with pytest.raises(ConfigError) as caught:
        choose_model("builder", cli=cli, default="fake")
    assert "role=model" in caught.value.fix


def test_no_model_chosen_tells_where_to_choose_one():
    with pytest.raises(ConfigError) as info:
        choose_model("builder", cli=None, card={}, workflow={})
    assert "'builder'" in info.value.message
    assert "models:" in (info.value.fix or "") and "install_fake" not in (info.value.fix or "")
