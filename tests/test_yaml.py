"""The one YAML loader: aliases are refused (a bomb is refused at once); what aios writes has none."""

from __future__ import annotations

import time

import pytest

from orchestrator import _yaml
from orchestrator.errors import ConfigError, StateError

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def test_an_alias_bomb_is_refused_at_once_naming_its_line() -> None:
    start = time.monotonic()
    with pytest.raises(StateError) as caught:
        _yaml.load(BOMB + "title: [*i]\n", file="card.md", error=StateError, line_offset=1)
    assert time.monotonic() - start < 1
    assert caught.value.render() == (
        "card.md:3: YAML aliases are not allowed (*a)\n"
        "  fix: write the value out in full instead of `&name` ... `*name`; a `*` that starts a value "
        "must be quoted (`'*.py'`)"
    )


def test_a_star_inside_text_is_not_an_alias() -> None:
    assert _yaml.load("paths: ['*.py', 'src/*']\nreason: fix a*b\nanchor: &x 1\n", file="f") == {
        "paths": ["*.py", "src/*"],
        "reason": "fix a*b",
        "anchor": 1,
    }


def test_even_one_small_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^f:2: YAML aliases are not allowed \(\*x\)"):
        _yaml.load("a: &x 1\nb: *x\n", file="f")


def test_dump_never_writes_an_alias_so_load_reads_it_back() -> None:
    shared = ["a", "b"]
    text = _yaml.dump({"x": shared, "y": shared})
    assert "&" not in text and "*" not in text
    assert _yaml.load(text, file="f") == {"x": ["a", "b"], "y": ["a", "b"]}
