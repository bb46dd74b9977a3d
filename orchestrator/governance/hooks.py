"""Git hooks that run the checks at commit and push time (the operating model's compliance checks).

    pre-commit   TaskCard schema: ``aios task validate`` on the TaskCards the commit stages
    pre-push     spec and state consistency: ``aios state check`` and the spec gate on every task

``install`` writes both into the repository's hooks folder (``core.hooksPath`` if set, else
``.git/hooks``). A hook aios did not write is never overwritten: ``install`` refuses, or with
``chain`` keeps it as ``<hook>.before-aios`` and runs it first (its failure stops the commit or
push). The hooks call the interpreter that installed them, so they work outside that shell's PATH.

aios's own git calls never run hooks (``sandbox.git``); these are for people's commits and pushes.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from orchestrator._files import atomic_write, make_dirs, read_text
from orchestrator.errors import AiosError
from orchestrator.sandbox import git

#: The second line of every hook aios writes: how ``install`` tells its own hooks from others.
MARKER = "# aios hook: written by `aios hooks install`; run `aios hooks install` again to update it"
CHAINED = ".before-aios"
#: TaskCard file names, as ``.pre-commit-hooks.yaml`` and ``state.taskcard.TASK_ID`` have them.
CARD_PATTERN = r"^tasks/(.+/)?TASK_[A-Z][A-Z0-9]*_[0-9]{4,}\.md$"

_CHECKS = {
    "pre-commit": """\
cards=$(git diff --cached --name-only --diff-filter=ACMR | grep -E '{pattern}')
[ -z "$cards" ] && exit 0
IFS='
'
# shellcheck disable=SC2086
exec {aios} task validate $cards
""",
    "pre-push": """\
{aios} state check </dev/null || exit 1
exec {aios} gate check --gate spec </dev/null
""",
}


@dataclass(frozen=True)
class Installed:
    """A hook written: where, and the foreign hook it chains (None when there was none)."""

    name: str
    path: Path
    chained: Path | None


def hooks_dir(repo: Path) -> Path:
    """The folder git runs hooks from: ``core.hooksPath`` (relative to the repository) or ``.git/hooks``."""
    done = git.run(repo, "config", "--show-scope", "--get-all", "core.hooksPath", check=False)
    configured = [
        line.split("\t", 1)[1]
        for line in done.stdout.decode("utf-8", "replace").splitlines()
        if "\t" in line and not line.startswith("command\t")  # aios's own `-c core.hooksPath=/dev/null`
    ]
    if configured:
        return (repo / os.path.expanduser(configured[-1])).resolve()
    common = git.run(repo, "rev-parse", "--git-common-dir").stdout.decode().strip()
    return (repo / common / "hooks").resolve()


def install(repo: Path, *, python: str, chain: bool = False) -> list[Installed]:
    """Write the pre-commit and pre-push hooks; returns what was written.

    Raises:
        AiosError: a hook aios did not write is in the way (and ``chain`` is off, or a chained copy
            exists already).
    """
    folder = hooks_dir(repo)
    make_dirs(folder)
    plans = [(name, folder / name) for name in _CHECKS]
    for name, path in plans:  # refuse before writing anything
        _check_free(path, name, chain=chain)
    return [_write(name, path, python=python) for name, path in plans]


def _check_free(path: Path, name: str, *, chain: bool) -> None:
    if not path.exists() or _ours(path):
        return
    kept = path.with_name(path.name + CHAINED)
    if not chain:
        raise AiosError(
            f"a {name} hook aios did not write is installed",
            file=path,
            fix=f"`aios hooks install --chain` keeps it as {kept.name} and runs it first; or add aios's "
            "hooks to your pre-commit config (ids aios-taskcard and aios-spec in .pre-commit-hooks.yaml)",
        )
    if kept.exists():
        raise AiosError(
            f"{kept.name} exists already, so the {name} hook cannot be kept under that name",
            file=path,
            fix=f"merge {path.name} into {kept.name} by hand (or remove one), then install again",
        )


def _write(name: str, path: Path, *, python: str) -> Installed:
    kept = path.with_name(path.name + CHAINED)
    chained = None
    if path.exists() and not _ours(path):
        os.replace(path, kept)
        chained = kept
    elif kept.exists():
        chained = kept  # installed with --chain before: keep running it
    atomic_write(path, _script(name, python=python, chained=chained))
    path.chmod(0o755)
    return Installed(name=name, path=path, chained=chained)


def _script(name: str, *, python: str, chained: Path | None) -> str:
    aios = f"{shlex.quote(python)} -m orchestrator"
    lines = [
        "#!/bin/sh",
        MARKER,
        f"# {name}: {'TaskCard schema' if name == 'pre-commit' else 'spec and state'}",
    ]
    if chained is not None:
        lines.append(f'"$(dirname "$0")/{chained.name}" "$@" || exit $?')
    body = _CHECKS[name].format(aios=aios, pattern=CARD_PATTERN)
    return "\n".join(lines) + "\n" + body


def _ours(path: Path) -> bool:
    try:
        return MARKER in read_text(path)
    except AiosError:
        return False  # not text: certainly not ours
