"""Text normalised for phrase matching, and the phrase list (``orchestrator/data/injection_phrases.yaml``).

An attempt to instruct the reviewer hides from a plain phrase match with zero-width or bidi
characters, look-alike letters from another script, full-width or styled letters, a phrase split
over two lines or comment markers, or string concatenation. ``normalise`` undoes each of these, and
the phrases are normalised the same way, so a phrase written in plain lower case matches them all.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict

from orchestrator import _yaml
from orchestrator.errors import ConfigError

PHRASES_FILE = "injection_phrases.yaml"

# Cyrillic and Greek letters drawn like Latin ones (Unicode's confusables.txt, the subset that
# matters for Latin phrases). A small table rather than a dependency: NFKC already folds full-width
# and mathematical letters, and only these scripts give whole Latin words their look-alikes.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "А": "A", "В": "B", "в": "b", "е": "e", "Е": "E", "ё": "e", "К": "K", "к": "k",
        "М": "M", "м": "m", "Н": "H", "н": "h", "о": "o", "О": "O", "р": "p", "Р": "P", "с": "c",
        "С": "C", "Т": "T", "т": "t", "у": "y", "У": "Y", "х": "x", "Х": "X", "і": "i", "І": "I",
        "ї": "i", "ј": "j", "Ј": "J", "ѕ": "s", "Ѕ": "S", "ԁ": "d", "һ": "h", "ӏ": "l", "Ӏ": "I",
        "ԛ": "q", "ԝ": "w", "ɡ": "g", "ո": "n", "ս": "u",
        # Greek
        "Α": "A", "α": "a", "Β": "B", "β": "b", "Ε": "E", "ε": "e", "Ζ": "Z", "Η": "H", "Ι": "I",
        "ι": "i", "Κ": "K", "κ": "k", "Μ": "M", "Ν": "N", "ν": "v", "Ο": "O", "ο": "o", "Ρ": "P",
        "ρ": "p", "Τ": "T", "τ": "t", "Υ": "Y", "υ": "u", "Χ": "X", "χ": "x", "ϲ": "c", "ϳ": "j",
    }
)  # fmt: skip

# Each Han, kana or Hangul character is its own word: those scripts put no spaces between words.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")
_NOT_WORD = re.compile(r"\W+")
_GAP = "..."
_GAP_WORDS = 4


def fold(text: str) -> str:
    """NFKC, invisible characters dropped, look-alikes folded, accents dropped, case folded.

    Punctuation and line breaks are kept (the fake-evidence check needs them); see ``normalise``.
    """
    text = "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf")
    text = text.translate(_CONFUSABLES).casefold()
    # Accents go after folding, so "é" and "e" match; a combining mark inserted to break a word too.
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalise(text: str) -> str:
    """``fold``, then every run of punctuation and white space one space (``_`` stays: identifiers
    such as ``approve_task`` are one word).

    Comment markers (``#``, ``//``, ``*``), quotes and ``+`` between string pieces vanish, so a
    phrase split over lines, comments or concatenated strings reads as one.

    Example:
        >>> normalise("# IGNORE\\u200b all\\n# prеvious")  # a zero-width space, a Cyrillic е
        'ignore all previous'
    """
    text = _CJK.sub(r" \1 ", fold(text))
    return _NOT_WORD.sub(" ", text).strip()


class _PhraseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    phrases: dict[str, list[str]]
    """Phrases by language (``en``, ``de`` ...)."""


@dataclass(frozen=True)
class Phrase:
    """One phrase of the file, compiled for normalised text."""

    language: str
    text: str
    pattern: re.Pattern[str]


def compile_phrase(text: str) -> re.Pattern[str]:
    """The regular expression over normalised text for one phrase of the file's syntax."""
    slots = text.split()
    if not slots or _GAP in (slots[0], slots[-1]):
        raise ValueError(f"a phrase cannot be empty or start or end with {_GAP!r}: {text!r}")
    # A gap is zero to four whole words: "a ... b" is "a", then up to four words, then "b".
    body = " ".join(_slot(s) for s in slots).replace(f" {_GAP} ", rf" (?:\S+ ){{0,{_GAP_WORDS}}}")
    return re.compile(r"(?<!\S)" + body + r"(?!\S)")


def _slot(slot: str) -> str:
    if slot == _GAP:
        return _GAP  # expanded by compile_phrase, with the spaces around it
    alternatives = []
    for alt in slot.split("|"):
        prefix = alt.endswith("*")
        words = normalise(alt.removesuffix("*"))
        alternatives.append(re.escape(words) + (r"\S*" if prefix else ""))
    return "(?:" + "|".join(alternatives) + ")"


@cache
def phrases() -> tuple[Phrase, ...]:
    """Every phrase of the shipped file, compiled once per process.

    Raises:
        ConfigError: the file is not valid YAML, or a phrase breaks the syntax (names the phrase).
    """
    where = f"orchestrator/data/{PHRASES_FILE}"
    resource = files("orchestrator") / "data" / PHRASES_FILE
    text = resource.read_text(encoding="utf-8")
    parsed = _yaml.validate(_PhraseFile, _yaml.load(text, file=where), file=where, text=text)
    return tuple(
        _phrase(language, i, text, where)
        for language, texts in parsed.phrases.items()
        for i, text in enumerate(texts)
    )


def _phrase(language: str, index: int, text: str, where: str) -> Phrase:
    try:
        return Phrase(language, text, compile_phrase(text))
    except (ValueError, re.error) as exc:
        raise ConfigError(
            str(exc),
            file=where,
            field=f"phrases.{language}[{index}]",
            fix="see the syntax at the top of the file",
        ) from None


@dataclass(frozen=True)
class Joined:
    """Several lines normalised and joined into one text, remembering where each line starts."""

    text: str
    starts: tuple[int, ...]
    lines: tuple[int | None, ...]

    @classmethod
    def of(cls, numbered: Sequence[tuple[int | None, str]]) -> Joined:
        """Join ``(line number, raw text)`` pairs, in order."""
        text, starts, lines = "", list[int](), list[int | None]()
        for number, raw in numbered:
            part = normalise(raw)
            if not part:
                continue
            text += " " if text else ""
            starts.append(len(text))
            lines.append(number)
            text += part
        return cls(text, tuple(starts), tuple(lines))

    def line_at(self, offset: int) -> int | None:
        """The line number of the line holding ``offset`` of the joined text."""
        return self.lines[bisect_right(self.starts, offset) - 1] if self.starts else None


def find_phrases(joined: Joined, extra: Sequence[re.Pattern[str]] = ()) -> list[tuple[int | None, str]]:
    """``(line, matched text)`` for each line where a phrase (or an extra pattern) starts; first one wins."""
    found: dict[int | None, str] = {}
    patterns = [p.pattern for p in phrases()] + list(extra)
    for pattern in patterns:
        for m in pattern.finditer(joined.text):
            found.setdefault(joined.line_at(m.start()), m[0])
    return sorted(found.items(), key=lambda kv: -1 if kv[0] is None else kv[0])
