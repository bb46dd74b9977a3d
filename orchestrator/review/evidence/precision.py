"""Precision rules: what the evidence must not report, or reports once, or reports as info.

Each rule here removes a known false positive of the raw tools without hiding a real defect:

- one finding per syntax error: ruff's parser recovers and reports every token that follows a
  broken one (``unexpected EOF``), so only the first parse error of a file counts;
- a deliberate ``# noqa: XXX`` is shown as an ``info`` finding beside the rule it silences (the
  rule itself still counts while ``honour_noqa`` is off);
- pinned commit hashes and lockfile digests are not secrets (detect-secrets' entropy plugins
  flag a 40-character commit SHA as a "Hex High Entropy String");
- lines of a multi-line import list are not code that can be duplicated;
- the cyclomatic complexity of a function before and after the change, so a function that was
  already over the limit and did not get more complex is the target branch's, not the change's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from orchestrator.review.evidence._ruff import Diagnostic
from orchestrator.review.findings import Dimension, Finding, Severity

__all__ = [
    "complexity",
    "function_complexities",
    "import_lines",
    "is_pinned_hash",
    "noqa_findings",
    "one_per_syntax_error",
]

# ---------------------------------------------------------------- syntax errors

SYNTAX_RULES = ("invalid-syntax", "E999")


def _is_syntax(rule: str) -> bool:
    return rule in SYNTAX_RULES or rule.startswith("E9")


def one_per_syntax_error(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics with only the first syntax error of each file kept.

    After the first parse error the rest of the file is guesswork for the parser: every later
    "syntax error" (and every other rule's name for it) follows from that one.
    """
    diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line))
    broken = {(d.file, d.line) for d in diagnostics if _is_syntax(d.rule)}
    first: dict[str, Diagnostic] = {}
    out: list[Diagnostic] = []
    for d in diagnostics:
        if not _is_syntax(d.rule):
            if (d.file, d.line) not in broken:  # another rule tripping on the broken line
                out.append(d)
        elif d.file not in first:
            first[d.file] = d
    return sorted([*out, *first.values()], key=lambda d: (d.file, d.line, d.rule))


# ---------------------------------------------------------------- noqa

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?(?P<why>.*)$", re.I)


def noqa_codes(line: str) -> tuple[set[str] | None, str] | None:
    """The codes a ``# noqa`` comment on ``line`` names (None: a bare ``# noqa``) and its reason.

    None when the line has no ``noqa`` comment.
    """
    m = _NOQA.search(line)
    if m is None:
        return None
    codes = {c.upper() for c in re.split(r"[\s,]+", m["codes"]) if c} if m["codes"] else None
    return codes, m["why"].strip(" -:#")


def noqa_findings(diagnostics: Iterable[Diagnostic], sources: dict[str, list[str]]) -> list[Finding]:
    """One ``info`` finding per diagnostic that a ``# noqa`` comment on its lines silences.

    ``sources`` maps a file to its lines. The finding sits on the same file and line as the rule's
    own, so a reader sees both: the rule (it still counts) and that the author meant it.
    """
    out = []
    for d in diagnostics:
        lines = sources.get(d.file) or []
        for number in sorted({d.line, d.end_line}):
            parsed = noqa_codes(lines[number - 1]) if 0 < number <= len(lines) else None
            if parsed and (parsed[0] is None or d.rule in parsed[0]):
                out.append(_noqa_finding(d, parsed[1]))
                break
    return out


def _noqa_finding(d: Diagnostic, why: str) -> Finding:
    reason = f": {why}" if why else " (no reason given)"
    return Finding(
        dimension=Dimension.QUALITY,
        severity=Severity.INFO,
        file=d.file,
        line=d.line,
        rule="noqa",
        message=f"`# noqa` silences {d.rule} here{reason}; the rule still counts in this review",
        source="ruff",
    )


# ---------------------------------------------------------------- pinned hashes

ENTROPY_KINDS = frozenset({"Hex High Entropy String", "Base64 High Entropy String"})
"""detect-secrets' kinds that judge a string by its randomness alone, which a digest has too."""

_ALGO_PREFIX = re.compile(r"(?:sha1|sha224|sha256|sha384|sha512|md5|blake2b|blake2s)[:=-]$", re.I)
_PIN_CONTEXT = re.compile(
    r"\b(?:rev|revision|sha|commit|commit_id|commit_sha|hash|digest|integrity|checksum|pin\w*|ref)\b|@",
    re.I,
)
_HEX = re.compile(r"[0-9a-f]+")
_DIGEST_LENGTHS = {32, 40, 56, 64, 96, 128}  # md5, SHA-1 (git), SHA-224, SHA-256, SHA-384, SHA-512


def is_pinned_hash(token: str, line: str) -> bool:
    """True when ``token`` on ``line`` is a digest or a commit id, not a secret.

    A token is a pinned hash when it follows an algorithm label (``sha256:``, ``sha512-`` in a
    lockfile's ``integrity``), or when it is a whole hexadecimal digest (a git SHA-1 of 40
    characters, a SHA-256 of 64 ...) on a line that says it pins something (``rev:``, ``sha``,
    ``commit``, ``hash``, ``@``).
    """
    at = line.find(token)
    if at < 0:
        return False
    before = line[:at]
    if _ALGO_PREFIX.search(before):
        return True
    labelled = re.match(r"^(?:sha1|sha256|sha384|sha512|md5)[:=-](.+)$", token, re.I)
    if labelled:
        return True
    hexdigest = _HEX.fullmatch(token.lower()) is not None and len(token) in _DIGEST_LENGTHS
    return hexdigest and _PIN_CONTEXT.search(before) is not None


# ---------------------------------------------------------------- imports


def import_lines(lines: list[str]) -> set[int]:
    """Line numbers (1-based) inside import statements, including every line of a bracketed list.

    Read line by line, not parsed: a file under review may not parse.
    """
    out: set[int] = set()
    depth = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if depth == 0 and not text.startswith(("import ", "from ")):
            continue
        if depth == 0 and text.startswith("from ") and " import " not in f"{text} ":
            continue
        out.add(number)
        depth = max(0, depth + text.count("(") - text.count(")"))
    return out | _continued(lines, out)


def _continued(lines: list[str], imports: set[int]) -> set[int]:
    # ``from x import a, \`` continues on the next line without brackets.
    extra: set[int] = set()
    for number in sorted(imports):
        n = number
        while lines[n - 1].rstrip().endswith("\\") and n < len(lines):
            n += 1
            extra.add(n)
    return extra


# ---------------------------------------------------------------- complexity

_BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.IfExp, ast.ExceptHandler, ast.match_case)


def complexity(node: ast.AST) -> int:
    """McCabe's cyclomatic complexity of a function, as mccabe counts decision points.

    The count need not equal ruff's to the unit: it compares one function before and after a
    change, and the same count on both sides is what matters.
    """
    score = 1
    for child in ast.walk(node):
        score += isinstance(child, _BRANCHES)
        if isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
        elif isinstance(child, ast.comprehension):
            score += 1 + len(child.ifs)
        elif isinstance(child, ast.For | ast.AsyncFor | ast.While | ast.Try) and child.orelse:
            score += 1  # an ``else`` is one more way through
    return score


def function_complexities(text: str) -> dict[str, int]:
    """Each function's complexity by qualified name (``Class.method``, ``outer.inner``)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out[name] = complexity(child)
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def qualified_name_at(text: str, line: int) -> str | None:
    """The qualified name of the function defined at ``line`` of ``text``, if any."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None

    def find(node: ast.AST, prefix: str) -> str | None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if child.lineno == line and not isinstance(child, ast.ClassDef):
                    return name
                found = find(child, f"{name}.")
            else:
                found = find(child, prefix)
            if found:
                return found
        return None

    return find(tree, "")


def source_lines(worktree: Path, files: Iterable[str]) -> dict[str, list[str]]:
    """Each file's lines as the evidence reads them (encoding honoured), for the noqa rule."""
    from orchestrator.review.evidence._base import read_source

    return {f: (read_source(worktree, f) or "").splitlines() for f in files}
