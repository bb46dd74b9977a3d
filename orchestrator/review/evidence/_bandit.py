"""Running bandit on the changed files and reading its report (the security half of Q beside ruff).

Ruff's ``S`` rules are bandit's checks re-implemented, numbered alike (``S301`` is bandit's
``B301``), but not all of them: suspicious imports (``B4xx``), ``torch.load`` (``B614``), unpinned
Hugging Face downloads (``B615``), ``tarfile`` extraction (``B202``) and others are bandit's only.
Bandit's issues are named with ruff's numbers (``B403`` -> ``S403``) so one rule id, one severity
setting, one ignore list and one baseline key serve both tools, and an issue both report is one
finding (the quality collector keeps ruff's).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.review.evidence._base import (
    Attempt,
    Runner,
    attempt,
    cli_paths,
    match_path,
    read_report,
    report_folder,
)
from orchestrator.review.findings import Severity
from orchestrator.review.settings import BanditSettings, RuffSettings, rule_matches

REPORT = "bandit.json"


@dataclass(frozen=True)
class Issue:
    """One bandit issue, its path made repository-relative and its test id in ruff's numbering."""

    rule: str
    """``S`` and bandit's number: ``B403`` -> ``S403``."""
    test_id: str
    file: str
    line: int
    end_line: int
    severity: str
    """Bandit's ``issue_severity``: ``LOW``, ``MEDIUM`` or ``HIGH``."""
    confidence: str
    message: str


def run_bandit(
    run: Runner, files: Sequence[str], *, settings: BanditSettings, honour_nosec: bool
) -> tuple[Attempt, list[Issue] | None, str | None]:
    """Run bandit with only our options on ``files`` (regular files; the caller filters).

    Bandit reads a ``.bandit`` file only under a directory target and ``pyproject.toml`` only with
    ``-c``: we pass neither, so the change cannot configure its own security check. Its JSON report
    is written outside the worktree and read in full, as ruff's.

    Returns:
        The attempt, the issues (None when the report could not be read) and why not.
    """
    argv = [*settings.command, "--format", "json", "--quiet", "--exit-zero"]
    if not honour_nosec:
        argv.append("--ignore-nosec")  # a builder could silence any check with ``# nosec``
    with report_folder(run) as folder:
        report = ["--output", str(folder / REPORT)] if folder else []
        att = attempt(run, [*argv, *report, "--", *cli_paths(files)])
        text = read_report(folder / REPORT) if folder else att.stdout
    if att.reason:
        return att, None, None
    if text is None:
        return att, None, f"bandit wrote no report (exit {att.returncode})"
    if folder and att.result is not None:
        att = dataclasses.replace(att, result=dataclasses.replace(att.result, stdout=_summary(text)))
    issues, why = parse_report(text, files)
    if why is None and att.returncode != 0:
        why = f"bandit exited with {att.returncode}"
    return att, (issues if why is None else None), why


def parse_report(text: str, files: Sequence[str]) -> tuple[list[Issue], str | None]:
    """Issues from bandit's JSON report; anything unreadable means truncated or not bandit."""
    try:
        data = json.loads(text)
        return [_issue(item, files) for item in data["results"]], None
    except (ValueError, KeyError, TypeError, AttributeError):
        return [], f"bandit report could not be read (truncated or not bandit?): {text[:120]!r}"


def _issue(item: dict[str, object], files: Sequence[str]) -> Issue:
    test_id = str(item["test_id"])
    line = int(str(item["line_number"]))
    span = item.get("line_range") or [line]
    if not isinstance(span, list):
        raise TypeError("line_range is not a list")
    path = match_path(str(item["filename"]), files) or str(item["filename"])
    return Issue(
        rule=ruff_rule(test_id),
        test_id=test_id,
        file=path,
        line=line,
        end_line=max(line, *(int(n) for n in span)),
        severity=str(item["issue_severity"]).upper(),
        confidence=str(item["issue_confidence"]).upper(),
        message=str(item["issue_text"]),
    )


def _summary(text: str) -> str:
    """What the output tail shows: one line per issue, never bandit's ``code`` excerpts (which
    would copy the change's source, secrets included, into the report)."""
    try:
        results = json.loads(text)["results"]
        return "\n".join(
            f"{r['filename']}:{r['line_number']}: {r['test_id']} [{r['issue_severity']}/"
            f"{r['issue_confidence']}] {r['issue_text']}"
            for r in results
        )
    except (ValueError, KeyError, TypeError):
        return text[-2000:]


def ruff_rule(test_id: str) -> str:
    """Bandit's test id in ruff's numbering: ``B403`` -> ``S403`` (the numbers mirror each other)."""
    return re.sub(r"^B", "S", test_id)


# ---------------------------------------------------------------- what ruff's settings say


def severity_of(issue: Issue, ruff: RuffSettings) -> Severity:
    """The finding's severity: ruff's setting for the same rule, lowered by bandit's own rating.

    Bandit's HIGH severity with HIGH confidence reads as ruff's ``S`` findings do (major, or
    critical for the rules configured so); MEDIUM at most major; a LOW severity or a LOW confidence
    at most minor. The setting is a ceiling: a rule configured ``info`` (``S4``: an import alone)
    stays info whatever bandit says.
    """
    configured = ruff.severity_of(issue.rule)
    if issue.severity == "HIGH" and issue.confidence == "HIGH":
        cap = Severity.CRITICAL
    elif "LOW" in (issue.severity, issue.confidence):
        cap = Severity.MINOR
    else:
        cap = Severity.MAJOR
    return configured if cap.at_least(configured) else cap


def ignored(rule: str, path: str, ruff: RuffSettings) -> bool:
    """True when ruff's settings turn ``rule`` off for ``path`` (``ignore``, ``per_file_ignores``).

    Bandit has no per-file ignores: the same settings apply to its issues as to ruff's, so the
    precision rules (no ``S311`` for ``random`` in tests) hold for both.
    """
    if any(rule_matches(rule, p) for p in ruff.ignore):
        return True
    return any(
        glob_matches(glob, path) and any(rule_matches(rule, p) for p in rules)
        for glob, rules in ruff.per_file_ignores.items()
    )


def glob_matches(glob: str, path: str) -> bool:
    """``path`` (repo-relative, ``/``-separated) matches ``glob`` as ruff's globs do: ``**`` spans
    folders, ``*`` and ``?`` stay within one; a glob without ``/`` matches the file name."""
    if "/" not in glob:
        path = path.rsplit("/", 1)[-1]
    pattern = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            pattern, i = pattern + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            pattern, i = pattern + ".*", i + 2
        else:
            pattern += {"*": "[^/]*", "?": "[^/]"}.get(glob[i], re.escape(glob[i]))
            i += 1
    return re.fullmatch(pattern, path) is not None


def not_reported(issues: Iterable[Issue], reported: Iterable[tuple[str, int, str]]) -> list[Issue]:
    """The issues no ``(file, line, rule)`` in ``reported`` (ruff's findings) already names.

    One issue is one finding: ruff's wins (it was there first, with the same rule id and severity
    setting). A finding on any line of bandit's span counts (bandit may name a call's inner line).
    """
    seen = set(reported)
    return [i for i in issues if not any((i.file, n, i.rule) in seen for n in range(i.line, i.end_line + 1))]


def regular_files(folder: Path, files: Iterable[str]) -> list[str]:
    """Only the files that are regular files inside ``folder``: a symlink to a directory would make
    bandit walk it and read a ``.bandit`` config the change planted."""
    out = []
    for f in files:
        path = folder / f
        if not path.is_symlink() and path.is_file():
            out.append(f)
    return out
