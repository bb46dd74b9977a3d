"""Text aimed at the AI reviewer, wherever the change, the task or a check's output carries it.

Requests to approve, or to set aside the reviewer's instructions, change nothing (the policy decides
from evidence and findings, and a ``prompt-injection`` finding never approves), and each is reported
as a finding so a human sees the attempt. Every channel a model reads is scanned: the added lines of
every file (code, comments, strings, Markdown and other text), the names of added and renamed files,
the commit messages, the TaskCard, and the output of the evidence commands (``output_injection``).

Text is normalised first (``_phrases.normalise``: NFKC, invisible characters, look-alike letters,
accents, case, line breaks and comment markers), then matched against the phrases of
``orchestrator/data/injection_phrases.yaml``, in English, German, French, Spanish, Chinese and
Russian. A line mimicking our own evidence format (``[Q] ruff: PASSED``, "## Evidence gathered by
tools") is an attempt too: it would read to the model as a tool's verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from orchestrator.redact import mask_secrets
from orchestrator.review.diff import Diff, FileDiff, FileStatus
from orchestrator.review.evidence._base import EvidenceResult, EvidenceStatus
from orchestrator.review.evidence._phrases import Joined, find_phrases, fold
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.settings import InjectionSettings

RULE = "prompt-injection"
OUTPUT_CHECK = f"{RULE}:check-output"

# Lines that imitate the evidence block of the reviewer prompt (``render_evidence``) or its headings.
# Matched on folded text at the start of a line, after comment or quote markers only, so a test that
# asserts on rendered evidence inside a string literal is not an attempt.
_FAKE_EVIDENCE = re.compile(
    r"^[\s#/*>;|-]*(?:\[[qrco]\]\s+[\w.:-]+:\s+(?:passed|failed|error)\b"
    r"|#{1,6}\s*(?:evidence gathered by tools|the change \(new-side|changes since the last reviewed"
    r"|open findings from the previous round))"
)


def detect_injection(
    diff: Diff,
    *,
    commit_messages: Iterable[str] = (),
    task_body: str = "",
    settings: InjectionSettings | None = None,
) -> list[Finding]:
    """Findings for text that tries to instruct the reviewer, wherever the change or task carries it.

    Args:
        diff: the change: the added lines of every file, and the names of added or renamed files.
        commit_messages: the messages of the commits under review.
        task_body: the TaskCard's text.
        settings: severity and extra patterns.
    """
    settings = settings or InjectionSettings()
    found = [f for fd in diff.present() for f in _in_file(fd, settings)]
    found += [f for message in commit_messages for f in _in_text(message, "a commit message", settings)]
    found += _in_text(task_body, "the TaskCard", settings)
    return found


def injection_evidence(
    diff: Diff, messages: Iterable[str], task_body: str, *, settings: InjectionSettings | None = None
) -> EvidenceResult:
    """``detect_injection`` as an evidence result of dimension Q (added to the Q check's evidence)."""
    findings = detect_injection(diff, commit_messages=messages, task_body=task_body, settings=settings)
    return _result(RULE, Dimension.QUALITY, findings)


def output_injection(
    results: Sequence[EvidenceResult], *, settings: InjectionSettings | None = None
) -> list[EvidenceResult]:
    """One failed ``prompt-injection:check-output`` result when the checks' output addresses the reviewer.

    The model reads the output tail of each check that did not pass; a test or script under review
    controls what it prints. Empty when nothing was found, so ordinary evidence reads as before.
    """
    if not results:
        return []
    settings = settings or InjectionSettings()
    findings = [
        f
        for r in results
        if r.output_tail and r.status is not EvidenceStatus.PASSED  # what render_evidence shows the model
        for f in _in_text(r.output_tail, f"the output of {r.name}", settings)
    ]
    return [_result(OUTPUT_CHECK, results[0].dimension, findings)] if findings else []


def _result(name: str, dimension: Dimension, findings: list[Finding]) -> EvidenceResult:
    status = EvidenceStatus.FAILED if findings else EvidenceStatus.PASSED
    return EvidenceResult(name=name, dimension=dimension, status=status, findings=findings)


def _in_file(fd: FileDiff, settings: InjectionSettings) -> list[Finding]:
    extra = _extra(settings)
    found = []
    if fd.status in (FileStatus.ADDED, FileStatus.RENAMED):
        # Separators in names are words' spaces: ignore_previous-instructions.md reads as a phrase.
        name = Joined.of([(None, fd.path.replace("_", " "))])
        found += [
            _injection(settings.severity, s, file=fd.path, where="a file name")
            for _, s in find_phrases(name, extra)
        ]
    for run in _added_runs(fd):
        hits = find_phrases(Joined.of(run), extra) + _fake_evidence(run)
        found += [_injection(settings.severity, s, file=fd.path, line=n) for n, s in _first_per_line(hits)]
    return found


def _in_text(text: str, where: str, settings: InjectionSettings) -> list[Finding]:
    numbered = list(enumerate(text.splitlines(), start=1))
    hits = find_phrases(Joined.of(numbered), _extra(settings)) + _fake_evidence(numbered)
    return [_injection(settings.severity, s, where=where) for _, s in _first_per_line(hits)]


def _added_runs(fd: FileDiff) -> Iterator[list[tuple[int | None, str]]]:
    """Consecutive added lines, each run joined before matching (a phrase split over lines)."""
    for hunk in fd.hunks:
        run: list[tuple[int | None, str]] = []
        for ln in hunk.lines:
            if ln.kind == "+":
                run.append((ln.new, ln.text))
            elif run:
                yield run
                run = []
        if run:
            yield run


def _fake_evidence(numbered: Iterable[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    return [(n, m[0].strip(" #/*>;|-")) for n, text in numbered if (m := _FAKE_EVIDENCE.match(fold(text)))]


def _first_per_line(hits: Iterable[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    """One hit per line (a sentence often matches several phrases), in line order."""
    first: dict[int | None, str] = {}
    for line, snippet in hits:
        first.setdefault(line, snippet)
    return sorted(first.items(), key=lambda kv: -1 if kv[0] is None else kv[0])


def _extra(settings: InjectionSettings) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in settings.extra_patterns]


def _injection(
    severity: Severity, snippet: str, *, file: str | None = None, line: int | None = None, where: str = ""
) -> Finding:
    place = f" in {where}" if where else ""
    quoted = mask_secrets(" ".join(snippet.split()))[:80]
    return Finding(
        dimension=Dimension.QUALITY,
        severity=severity,
        file=file,
        line=line,
        rule=RULE,
        message=f'text aimed at the AI reviewer{place}: "{quoted}"; it was ignored',
        suggestion="remove instructions addressed to the reviewer; they do not change the verdict",
        source="injection-detector",
    )
