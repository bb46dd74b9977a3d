"""Normalisation undoes each obfuscation; the shipped phrase file loads and covers six languages."""

from __future__ import annotations

import pytest

from orchestrator.review.evidence._phrases import Joined, compile_phrase, find_phrases, normalise, phrases


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Zero\u200bWidth\u200dJoin\ufeff", "zerowidthjoin"),
        ("\u202eright-to-left\u202c", "right to left"),
        ("\u0440\u0430y\u0440\u0430l", "paypal"),  # Cyrillic р and а
        ("\uff21\uff22\uff23 \U0001d41d\U0001d41e\U0001d41f", "abc def"),
        ("  # split\n// over * lines  ", "split over lines"),
        ("Pr\u00e9c\u00e9dentes \u00fcber", "precedentes uber"),
        ("approve_task(x)", "approve_task x"),
        ("\u5ffd\u7565abc", "\u5ffd \u7565 abc"),
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


def test_phrase_syntax_alternatives_prefixes_and_gaps() -> None:
    pattern = compile_phrase("stop|halt ... the line*")
    assert pattern.search("please stop the linear thing")
    assert pattern.search("halt a b c d the line")
    assert not pattern.search("halt a b c d e the line")  # a gap is at most four words
    assert not pattern.search("nonstop the line")  # words match whole, not inside other words


@pytest.mark.parametrize("bad", ["", "... stop", "stop ..."])
def test_a_phrase_cannot_start_or_end_with_a_gap(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be empty or start or end"):
        compile_phrase(bad)


def test_the_shipped_phrases_cover_six_languages() -> None:
    assert {p.language for p in phrases()} >= {"en", "de", "fr", "es", "zh", "ru"}


def test_a_match_is_reported_at_the_line_it_starts_on() -> None:
    joined = Joined.of([(3, "x = 1"), (4, ""), (5, "# stop the"), (6, "# line")])
    assert find_phrases(joined, [compile_phrase("stop the line")]) == [(5, "stop the line")]


def test_a_broken_phrase_in_the_file_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.errors import ConfigError
    from orchestrator.review.evidence import _phrases

    class _File:
        def __truediv__(self, name: str) -> _File:
            return self

        def read_text(self, encoding: str) -> str:
            return "schema_version: 1\nphrases:\n  en:\n    - fine phrase\n    - stop ...\n"

    monkeypatch.setattr(_phrases, "files", lambda package: _File())
    _phrases.phrases.cache_clear()
    try:
        with pytest.raises(ConfigError) as caught:
            _phrases.phrases()
    finally:
        _phrases.phrases.cache_clear()
    assert (caught.value.field, caught.value.fix) == (
        "phrases.en[1]",
        "see the syntax at the top of the file",
    )
    assert "cannot be empty or start or end with '...'" in caught.value.message
