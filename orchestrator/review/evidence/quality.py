"""Dimension Q: ruff (correctness and security rules), secrets on the lines the change added,
nested repositories (a gitlink or `.git` path in the change) and governance files it touches."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from orchestrator import redact
from orchestrator.review.diff import Diff, FileDiff, FileStatus
from orchestrator.review.evidence import _bandit, precision
from orchestrator.review.evidence._base import (
    EvidenceContext,
    EvidenceResult,
    EvidenceStatus,
    Runner,
    attempt,
    cli_paths,
    from_attempt,
    guarded,
    local_result,
    match_path,
)
from orchestrator.review.evidence._ruff import Diagnostic, run_ruff
from orchestrator.review.evidence.canon import GOVERNANCE_CANON, canon_check
from orchestrator.review.evidence.injection import injection_evidence
from orchestrator.review.evidence.precision import noqa_findings, one_per_syntax_error, source_lines
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.review.settings import RuffSettings

Q = Dimension.QUALITY
# By path, not by import: detect-secrets (and the requests stack it pulls) loads only when a scan
# runs, so reading a report (`aios review show`) does not pay for it.
PLUGIN_FILE = Path(__file__).with_name("secret_plugins.py").resolve()
NESTED_GIT = "nested-git"


def collect_quality(ctx: EvidenceContext, run: Runner) -> list[EvidenceResult]:
    """Ruff, secrets, nested repositories, governance files and text aimed at the reviewer."""
    injection = ctx.settings.quality.injection
    return [
        *guarded("ruff", Q, lambda: [ruff_check(ctx, run)]),
        *guarded("bandit", Q, lambda: bandit_check(ctx, run)),
        *guarded("secrets", Q, lambda: [scan_secrets(ctx, run)]),
        *guarded(NESTED_GIT, Q, lambda: nested_git_check(ctx.diff)),
        *guarded(GOVERNANCE_CANON, Q, lambda: canon_check(ctx)),
        *guarded(
            "prompt-injection",
            Q,
            lambda: [injection_evidence(ctx.diff, ctx.messages, ctx.card_text, settings=injection)],
        ),
    ]


def scan_secrets(ctx: EvidenceContext, run: Runner) -> EvidenceResult:
    """``secrets_check`` once per round: the first caller scans (and registers what it finds with the
    redactor), later ones get the same result. The model checks call it before any prompt is built,
    so a secret only detect-secrets recognises is masked in every dimension's prompt."""
    return ctx.once("secrets", lambda: secrets_check(ctx, run))


def ruff_check(ctx: EvidenceContext, run: Runner) -> EvidenceResult:
    """Ruff's correctness and security rules; each diagnostic on a changed line becomes a finding.

    Once per round: bandit's check reads its findings to leave out what ruff already reported.
    """
    return ctx.once("ruff", lambda: _ruff_check(ctx, run))


def _ruff_check(ctx: EvidenceContext, run: Runner) -> EvidenceResult:
    files = ctx.diff.python_files()
    if not files:
        return local_result("ruff", Q, [], note="no Python files changed")
    settings = ctx.settings.quality.ruff
    att, diagnostics, why = run_ruff(run, files, settings=settings, select=settings.select)
    tail = ctx.settings.output_tail_chars
    if diagnostics is None:
        return from_attempt("ruff", Q, att, tail_chars=tail, reason=why, status=EvidenceStatus.ERROR)
    kept = one_per_syntax_error(on_changed_lines(diagnostics, ctx.diff))
    findings = [_ruff_finding(d, settings) for d in kept]
    if not settings.honour_noqa:  # honoured, ruff drops them itself; ignored, say they were meant
        findings += noqa_findings(kept, source_lines(ctx.worktree, {d.file for d in kept}))
    return from_attempt("ruff", Q, att, tail_chars=tail, findings=findings)


def on_changed_lines(diagnostics: Iterable[Diagnostic], diff: Diff) -> list[Diagnostic]:
    """Only diagnostics whose span touches a line the change added or modified."""
    out = []
    for d in diagnostics:
        fd = diff.get(d.file)
        if fd and any(n in fd.changed_lines for n in range(d.line, max(d.line, d.end_line) + 1)):
            out.append(d)
    return out


def _ruff_finding(d: Diagnostic, settings: RuffSettings) -> Finding:
    return Finding(
        dimension=Q,
        severity=settings.severity_of(d.rule),
        file=d.file,
        line=d.line,
        rule=d.rule,
        message=d.message,
        source="ruff",
    )


# ---------------------------------------------------------------- bandit


def bandit_check(ctx: EvidenceContext, run: Runner) -> list[EvidenceResult]:
    """Bandit's issues on the changed lines that ruff did not report (``_bandit``), with ruff's ids,
    settings and severities; none when it is turned off.

    Reported only when it adds a finding or could not run: a change bandit finds nothing more in
    reads as it did before bandit ran (ruff's result stands for both), in prompts too.
    """
    settings = ctx.settings.quality
    files = _bandit.regular_files(ctx.worktree, ctx.diff.python_files())
    if not settings.bandit.enabled or not files:
        return []
    honour = settings.ruff.honour_noqa
    att, issues, why = _bandit.run_bandit(run, files, settings=settings.bandit, honour_nosec=honour)
    tail = ctx.settings.output_tail_chars
    if issues is None:
        return [from_attempt("bandit", Q, att, tail_chars=tail, reason=why, status=EvidenceStatus.ERROR)]
    ruff = [(f.file or "", f.line or 0, f.rule or "") for f in ruff_check(ctx, run).findings]
    kept = _bandit.not_reported(_changed(issues, ctx.diff), ruff)
    findings = [
        _bandit_finding(i, settings.ruff) for i in kept if not _bandit.ignored(i.rule, i.file, settings.ruff)
    ]
    return [from_attempt("bandit", Q, att, tail_chars=tail, findings=findings)] if findings else []


def _changed(issues: Iterable[_bandit.Issue], diff: Diff) -> list[_bandit.Issue]:
    out = []
    for i in issues:
        fd = diff.get(i.file)
        if fd and any(n in fd.changed_lines for n in range(i.line, i.end_line + 1)):
            out.append(i)
    return out


def _bandit_finding(issue: _bandit.Issue, settings: RuffSettings) -> Finding:
    return Finding(
        dimension=Q,
        severity=_bandit.severity_of(issue, settings),
        file=issue.file,
        line=issue.line,
        rule=issue.rule,
        message=f"{issue.message} (bandit {issue.test_id}, {issue.severity.lower()} severity)",
        source="bandit",
    )


# ---------------------------------------------------------------- secrets


def secrets_check(ctx: EvidenceContext, run: Runner) -> EvidenceResult:
    """detect-secrets (with our key plugins) on the changed files, kept to the added lines.

    The added lines are also matched against our key patterns directly, because detect-secrets'
    heuristic filters drop a key passed straight into a call (``Client(api_key="sk-proj-...")``).
    """
    files = [f.path for f in ctx.diff.present()]
    if not files:
        return local_result("secrets", Q, [], note="no text files changed")
    settings = ctx.settings.quality.secrets
    argv = [*settings.command, "scan", "--no-verify", "--plugin", str(PLUGIN_FILE)]
    argv += [arg for name in settings.disable_plugins for arg in ("--disable-plugin", name)]
    att = attempt(run, [*argv, "--", *cli_paths(files)])
    tail = ctx.settings.output_tail_chars
    if att.reason:
        return from_attempt("secrets", Q, att, tail_chars=tail)
    # Every writer masks the found values from now on (reports, prompts, notes, command output).
    redact.register(found_values(att.stdout, ctx.diff))
    found, why = _parse_scan(att.stdout, files)
    if why or att.returncode != 0:
        reason = why or f"detect-secrets exited with {att.returncode}"
        return from_attempt("secrets", Q, att, tail_chars=tail, reason=reason, status=EvidenceStatus.ERROR)
    for path, line, kind in _own_keys(ctx.diff):
        found[(path, line)].add(kind)
    _drop_pinned_hashes(found, _hashed(att.stdout, files), ctx.diff)
    findings = [_secret_finding(p, n, kinds, settings.severity) for (p, n), kinds in sorted(found.items())]
    return from_attempt("secrets", Q, att, tail_chars=tail, findings=_on_added(findings, ctx.diff))


def _parse_scan(stdout: str, files: list[str]) -> tuple[defaultdict[tuple[str, int], set[str]], str | None]:
    found: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    try:
        results = json.loads(stdout)["results"]
        for reported, items in results.items():
            path = match_path(reported, files) or reported
            for item in items:
                found[(path, int(item["line_number"]))].add(str(item["type"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return found, "detect-secrets output could not be read (truncated or not detect-secrets?)"
    return found, None


def found_values(stdout: str, diff: Diff) -> list[str]:
    """The secret values themselves, on the lines the change added, for masking only.

    detect-secrets reports a SHA-1 of each secret, not the secret: the added line's tokens whose
    SHA-1 matches are the values. Our own key patterns give theirs directly.
    """
    wanted = _hashed(stdout, [f.path for f in diff.present()])
    values: list[str] = []
    for fd, text, number in _added_lines(diff):
        values += _secret_plugins().key_values(text)
        hashes = wanted.get((fd, number), set())
        values += [
            t
            for t in redact.tokens(text)
            if hashes and _sha1(t) in hashes and not precision.is_pinned_hash(t, text)
        ]
    return values


def _hashed(stdout: str, files: list[str]) -> dict[tuple[str, int], set[str]]:
    wanted: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    try:
        for reported, items in json.loads(stdout)["results"].items():
            path = match_path(reported, files) or reported
            for item in items:
                wanted[(path, int(item["line_number"]))].add(str(item["hashed_secret"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        pass  # the scan's own parse reports unreadable output; here it only means nothing to mask
    return wanted


def _added_lines(diff: Diff) -> Iterable[tuple[str, str, int]]:
    for fd in diff.present():
        for hunk in fd.hunks:
            for ln in hunk.lines:
                if ln.kind == "+" and ln.new is not None:
                    yield fd.path, ln.text, ln.new


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - detect-secrets' own fingerprint


def _drop_pinned_hashes(
    found: defaultdict[tuple[str, int], set[str]], hashes: dict[tuple[str, int], set[str]], diff: Diff
) -> None:
    """Forget entropy-only detections whose every flagged value is a digest or a pinned commit id.

    A lockfile's ``sha256:...``, ``rev: <sha>`` in ``.pre-commit-config.yaml`` or ``pkg @ git+...@<sha>``
    is random by design; a real key named in the same line (our own patterns) still counts.
    """
    for path, text, number in _added_lines(diff):
        kinds = found.get((path, number))
        if not kinds or not kinds <= precision.ENTROPY_KINDS:
            continue
        flagged = [t for t in redact.tokens(text) if _sha1(t) in hashes.get((path, number), set())]
        if flagged and all(precision.is_pinned_hash(t, text) for t in flagged):
            del found[(path, number)]


def _own_keys(diff: Diff) -> Iterable[tuple[str, int, str]]:
    for path, text, number in _added_lines(diff):
        yield from ((path, number, kind) for kind in _secret_plugins().find_keys(text))


def _on_added(findings: list[Finding], diff: Diff) -> list[Finding]:
    return [f for f in findings if (fd := diff.get(f.file)) is not None and f.line in fd.changed_lines]


def _secret_finding(path: str, line: int, kinds: set[str], severity: Severity) -> Finding:
    # The finding names the kind of secret, never its value: reports and prompts are not secret.
    return Finding(
        dimension=Q,
        severity=severity,
        file=path,
        line=line,
        rule="secret",
        message=f"hard-coded secret ({', '.join(sorted(kinds))}) added",
        suggestion="remove it, rotate the credential and read it from the environment or a secret store",
        source="detect-secrets",
    )


# ---------------------------------------------------------------- nested repositories


def nested_git_check(diff: Diff) -> list[EvidenceResult]:
    """A change that adds a gitlink (mode 160000) or any `.git` path is a critical security finding.

    Checked out, a nested repository's own config (filters, fsmonitor) runs whenever git looks
    inside it; aios never commits one, so an external builder's branch is the only way in.
    Reported only when it finds one (a failed check), so ordinary reviews read as before.
    """
    findings = [_nested_finding(fd.path, fd.gitlink) for fd in diff if _nested(fd)]
    return [local_result(NESTED_GIT, Q, findings)] if findings else []


def _nested(fd: FileDiff) -> bool:
    dot_git = any(part.casefold() == ".git" for part in fd.path.split("/"))
    return fd.status is not FileStatus.DELETED and (fd.gitlink or dot_git)


def _nested_finding(path: str, gitlink: bool) -> Finding:
    what = "a nested git repository (gitlink)" if gitlink else "a .git path"
    return Finding(
        dimension=Q,
        severity=Severity.CRITICAL,
        file=path,
        rule=NESTED_GIT,
        message=f"the change adds {what}: its config could run commands wherever git looks inside it",
        suggestion="commit the files themselves (vendor them), or add a submodule by hand outside aios",
        source=NESTED_GIT,
    )


def _secret_plugins() -> ModuleType:
    from orchestrator.review.evidence import secret_plugins

    return secret_plugins
