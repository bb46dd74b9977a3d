"""Running ruff on the changed files and reading its diagnostics (used by Q and O)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.review.evidence._base import (
    Attempt,
    Runner,
    attempt,
    cli_paths,
    match_path,
    read_report,
    report_folder,
)
from orchestrator.review.settings import RuffSettings


@dataclass(frozen=True)
class Diagnostic:
    """One ruff diagnostic, its path made repository-relative."""

    rule: str
    file: str
    line: int
    end_line: int
    message: str


def run_ruff(
    run: Runner,
    files: Sequence[str],
    *,
    settings: RuffSettings,
    select: Sequence[str],
    config: Sequence[str] = (),
) -> tuple[Attempt, list[Diagnostic] | None, str | None]:
    """Run ruff with only our options (the repository's config is ignored: the builder can edit it).

    Ruff writes its diagnostics to a file outside the worktree, read in full: on a large change
    they outgrow the kept tail of stdout, and a cut list would lose findings (security ones too).

    Returns:
        The attempt, the diagnostics (None when the output could not be read) and why not.
    """
    argv = [
        *settings.command,
        "check",
        "--isolated",  # the repository's ruff config is the builder's to edit: it must not apply
        "--no-cache",  # a cache would land in the worktree and be committed with the next round
        "--exit-zero",  # exit 0 with findings, so any other exit means ruff itself failed
        "--output-format",
        "json-lines",  # one object per line: a truncated output shows as an unreadable line
    ]
    argv += ["--select", ",".join(select)]
    if settings.ignore:
        argv += ["--ignore", ",".join(settings.ignore)]
    if not settings.honour_noqa:
        argv.append("--ignore-noqa")
    argv += [arg for item in (*config, _per_file_ignores(settings)) if item for arg in ("--config", item)]
    with report_folder(run) as folder:
        report = ["--output-file", str(folder / "ruff.jsonl")] if folder else []
        att = attempt(run, [*argv, *report, "--", *cli_paths(files)])
        text = read_report(folder / "ruff.jsonl") if folder else att.stdout
    if att.reason:
        return att, None, None
    if text is None:
        return att, None, f"ruff wrote no report (exit {att.returncode})"
    if folder and att.result is not None:
        # The report stands in for stdout, so the output shown (its tail) reads as it always did.
        att = dataclasses.replace(att, result=dataclasses.replace(att.result, stdout=text))
    diagnostics, why = parse_json_lines(text, files)
    if why is None and att.returncode != 0:
        why = f"ruff exited with {att.returncode}"
    return att, (diagnostics if why is None else None), why


def _per_file_ignores(settings: RuffSettings) -> str:
    if not settings.per_file_ignores:
        return ""
    items = ", ".join(
        f"{json.dumps(glob)} = {json.dumps(rules)}" for glob, rules in settings.per_file_ignores.items()
    )
    return f"lint.per-file-ignores = {{{items}}}"


def parse_json_lines(stdout: str, files: Sequence[str]) -> tuple[list[Diagnostic], str | None]:
    """Diagnostics from ruff's ``json-lines`` output; any unreadable line means truncated or not ruff."""
    out: list[Diagnostic] = []
    for raw in stdout.splitlines():
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            out.append(_diagnostic(item, files))
        except (ValueError, KeyError, TypeError):
            return [], f"ruff output could not be read (truncated or not ruff?): {raw[:120]!r}"
    return out, None


def _diagnostic(item: dict[str, object], files: Sequence[str]) -> Diagnostic:
    location = item["location"]
    end = item.get("end_location") or location
    if not isinstance(location, dict) or not isinstance(end, dict):
        raise TypeError("location is not an object")
    path = match_path(str(item["filename"]), files) or str(item["filename"])
    # Syntax errors carry no rule code in recent ruff versions.
    rule = str(item.get("code") or "invalid-syntax")
    return Diagnostic(rule, path, int(location["row"]), int(end["row"]), str(item["message"]))
