"""Text aimed at the AI reviewer, in the change, a commit message or the TaskCard body.

Requests to approve, or to set aside the reviewer's instructions, change nothing (the policy decides from
evidence and findings), and it is reported as a finding so a human sees the attempt. It is part
of the Q evidence (``collect_quality``), reading the commit messages and the TaskCard from the
evidence context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from orchestrator.redact import mask_secrets
from orchestrator.review.diff import Diff
from orchestrator.review.evidence._base import EvidenceResult, EvidenceStatus
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.settings import InjectionSettings

# Phrases aimed at an AI reviewer, not at a human reading code. Written as regexes with \s+ so
# that this file does not match itself when aios reviews its own repository.
_WORDS_PRIOR = r"(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding|system|your)"
INJECTION_PATTERNS: tuple[str, ...] = (
    rf"\b(?:ignore|disregard|forget|override)\s+{_WORDS_PRIOR}\s+(?:instructions|prompts?|rules|guidelines)",
    r"\b(?:you\s+must|you\s+should|please|just)\s+approve\b",
    r"\bapprove\s+(?:this|it|the\s+(?:change|pr|pull\s+request|diff|code))\s+"
    r"(?:without|immediately|regardless|anyway|now)\b",
    r"\b(?:respond|reply|answer|output|return)\s+(?:only\s+)?(?:with\s+)?[\"'`]?APPROVED\b",
    r"\bverdict\s*[:=]\s*[\"'`]?approved\b",
    r"\b(?:do\s+not|don'?t|never)\s+(?:report|flag|mention)\s+(?:any\s+)?(?:issues|findings|problems|vulnerabilit)",
    r"\bdear\s+(?:ai|llm|model|reviewer|assistant)\b",
    r"\bnew\s+(?:system\s+)?instructions\s*:",
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
        diff: the change; only added lines are scanned (code, comments, docstrings, any file).
        commit_messages: the messages of the commits under review.
        task_body: the TaskCard's text.
        settings: severity and extra patterns.
    """
    settings = settings or InjectionSettings()
    patterns = _compile(settings.extra_patterns)
    found = [
        _injection(settings.severity, snippet, file=fd.path, line=ln.new)
        for fd in diff.present()
        for hunk in fd.hunks
        for ln in hunk.lines
        if ln.kind == "+" and (snippet := _match(patterns, ln.text))
    ]
    found += [
        _injection(settings.severity, s, where="a commit message")
        for s in _matches(patterns, commit_messages)
    ]
    found += [_injection(settings.severity, s, where="the TaskCard") for s in _matches(patterns, [task_body])]
    return found


def injection_evidence(
    diff: Diff, messages: Iterable[str], task_body: str, *, settings: InjectionSettings | None = None
) -> EvidenceResult:
    """``detect_injection`` as an evidence result of dimension Q (added to the Q check's evidence)."""
    findings = detect_injection(diff, commit_messages=messages, task_body=task_body, settings=settings)
    status = EvidenceStatus.FAILED if findings else EvidenceStatus.PASSED
    return EvidenceResult(
        name="prompt-injection", dimension=Dimension.QUALITY, status=status, findings=findings
    )


def _compile(extra: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in (*INJECTION_PATTERNS, *extra)]


def _match(patterns: Sequence[re.Pattern[str]], text: str) -> str | None:
    for pattern in patterns:
        if m := pattern.search(text):
            return m[0]
    return None


def _matches(patterns: Sequence[re.Pattern[str]], texts: Iterable[str]) -> list[str]:
    return [s for text in texts for line in text.splitlines() if (s := _match(patterns, line))]


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
        rule="prompt-injection",
        message=f'text aimed at the AI reviewer{place}: "{quoted}"; it was ignored',
        suggestion="remove instructions addressed to the reviewer; they do not change the verdict",
        source="injection-detector",
    )
