"""The test configuration and hook files a change may not use to grade itself.

pytest, coverage and the interpreter read files from the tree they run in: ``conftest.py`` at any
level, ``pytest.ini``, ``tox.ini``, ``setup.cfg``, ``pyproject.toml``, ``.coveragerc``,
``sitecustomize.py``/``usercustomize.py`` and ``.pth`` files. A change that edits them could make a
failing check pass without touching the code under test (a ``conftest.py`` hook that rewrites every
report to "passed"). So:

- `config_changes_check` makes every such edit a finding a human sees (``test-config-changed``, major
  by default), with the path, and so are plugins the change declares (``pytest_plugins``, a
  ``pytest11`` entry point);
- `checks_view` gives the project's commands (the acceptance checks, the test run) a detached copy
  of the worktree where those files are the merge base's versions (removed where the base has none).

Why a copy rather than pytest flags (``-c``, ``--noconftest``, ``-p no:``): acceptance checks are any
command (``python -c``, a script, ``make``), flags reach pytest only, and ``sitecustomize.py`` or a
``.pth`` file act before pytest starts. In the copy every command sees the target branch's
configuration, whatever it is, and the real worktree is never touched.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

from orchestrator.review.evidence._base import EvidenceContext, EvidenceResult, local_result
from orchestrator.review.findings import Dimension, Finding, Severity
from orchestrator.sandbox import git

C = Dimension.COMPLETENESS
RULE = "test-config-changed"

HOOK_NAMES = frozenset({
    "conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", ".coveragerc", "sitecustomize.py",
    "usercustomize.py",
})  # fmt: skip
"""Files that are test configuration or interpreter hooks wherever they sit, in full."""
SHARED_NAMES = frozenset({"setup.cfg", "pyproject.toml"})
"""Files that hold test configuration in some sections only (a dependency change is no finding)."""
_PLUGIN = re.compile(r"\bpytest_plugins\b|\bpytest11\b")
_PLUGIN_FILES = (".py", ".cfg", ".toml", ".ini")
"""Where a plugin declaration takes effect (a README mentioning one is no finding)."""
_CFG_SECTIONS = re.compile(r"^(?:tool:pytest|pytest|coverage:.*)$")


class ChecksViewError(Exception):
    """The project's checks cannot be given the base's test configuration: they must not run."""


def is_test_config(path: str) -> bool:
    """Whether ``path`` may hold test configuration or an interpreter hook (see the module docstring)."""
    name = path.rsplit("/", 1)[-1]
    return name in HOOK_NAMES or name in SHARED_NAMES or name.endswith(".pth")


def merge_base(ctx: EvidenceContext) -> str | None:
    """The commit the change forked from (None when the context does not know its base)."""
    if not ctx.base:
        return None
    return ctx.once("merge-base", lambda: _merge_base(ctx.worktree, ctx.base or ""))


def _merge_base(worktree: Path, base: str) -> str | None:
    done = git.run(worktree, "merge-base", base, "HEAD", check=False)
    if done.returncode != 0:
        return None
    return done.stdout.decode().strip() or None


def base_version(ctx: EvidenceContext, commit: str, path: str) -> bytes | None:
    """``path`` as it is in ``commit`` (any revision), or None when it has no such file."""
    done = git.run(ctx.worktree, "cat-file", "blob", f"{commit}:{path}", check=False)
    return done.stdout if done.returncode == 0 else None


def touched_config(ctx: EvidenceContext) -> list[str]:
    """Every test configuration or hook path the change adds, edits, deletes or renames (either side)."""
    paths = {p for f in ctx.diff for p in (f.path, f.old_path) if p and is_test_config(p)}
    return sorted(paths)


# ---------------------------------------------------------------- the finding


def config_changes_check(ctx: EvidenceContext) -> list[EvidenceResult]:
    """``test-config-changed`` for each configuration or hook file changed, and each plugin declared.

    No result at all when the change touches none: the evidence (and every prompt built from it)
    stays as it was for the common change.
    """
    plugins = _declared_plugins(ctx)
    if not touched_config(ctx) and not plugins:
        return []
    commit = merge_base(ctx)
    changed = [p for p in touched_config(ctx) if _changes_tests(ctx, commit, p)]
    findings = [_finding(p, "the change edits test configuration or a hook file") for p in changed]
    findings += [_finding(path, "the change declares a pytest plugin", line) for path, line in plugins]
    note = "the project's checks ran with the target branch's versions of: " + ", ".join(touched_config(ctx))
    return [local_result("test-config", C, findings, note=note)]


def _finding(path: str, what: str, line: int | None = None) -> Finding:
    return Finding(
        dimension=C,
        severity=Severity.MAJOR,  # at least major by design: not a setting the change could lower
        file=path,
        line=line,
        rule=RULE,
        message=f"{what}: {path} (the checks ran with the target branch's version; a person must "
        "review this change)",
        suggestion="leave test configuration and hook files to a separate change a person reviews",
        source="diff",
    )


def _declared_plugins(ctx: EvidenceContext) -> list[tuple[str, int]]:
    """(path, line) of each added ``pytest_plugins`` or ``pytest11`` (entry point) in code or config."""
    return [
        (f.path, ln.new)
        for f in ctx.diff
        if f.path.endswith(_PLUGIN_FILES)
        for h in f.hunks
        for ln in h.lines
        if ln.kind == "+" and ln.new and _PLUGIN.search(ln.text)
    ]


def _changes_tests(ctx: EvidenceContext, commit: str | None, path: str) -> bool:
    """For ``setup.cfg`` and ``pyproject.toml``: only when their test sections differ from the base's."""
    name = path.rsplit("/", 1)[-1]
    if name not in SHARED_NAMES or commit is None:
        return True
    before = base_version(ctx, commit, path)
    after = base_version(ctx, "HEAD", path)  # git's, not the folder's: a checks view holds the base's
    reader = _toml_sections if name == "pyproject.toml" else _cfg_sections
    return reader(before) != reader(after)


def _toml_sections(data: bytes | None) -> object:
    try:
        tool = tomllib.loads((data or b"").decode("utf-8", "replace")).get("tool", {})
    except tomllib.TOMLDecodeError:
        return ("unreadable", data)  # an unreadable file cannot be shown harmless
    return {k: tool.get(k) for k in ("pytest", "coverage")}


def _cfg_sections(data: bytes | None) -> object:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string((data or b"").decode("utf-8", "replace"))
    except configparser.Error:
        return ("unreadable", data)
    return {s: dict(parser.items(s)) for s in parser.sections() if _CFG_SECTIONS.match(s)}


# ---------------------------------------------------------------- the view the checks run in


@contextlib.contextmanager
def checks_view(ctx: EvidenceContext) -> Iterator[EvidenceContext]:
    """The context the project's commands run in: the worktree itself when the change touches no
    test configuration, else a temporary copy holding the merge base's versions of those files.

    Raises:
        ChecksViewError: the change touches such files but the base is unknown.
    """
    touched = touched_config(ctx)
    if not touched:
        yield ctx
        return
    commit = merge_base(ctx)
    if commit is None:
        raise ChecksViewError(
            "the change edits test configuration (" + ", ".join(touched) + ") and its base is unknown, "
            "so the checks cannot run with the target branch's configuration"
        )
    with tempfile.TemporaryDirectory(prefix="aios-checks-") as folder:
        copy = _copy_worktree(ctx.worktree, Path(folder) / ctx.worktree.name)
        for path in touched:
            _restore(copy, path, base_version(ctx, commit, path))
        yield dataclasses.replace(ctx, worktree=copy)


def _copy_worktree(worktree: Path, dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache")
    shutil.copytree(worktree, dest, symlinks=True, ignore=ignore)
    dot_git = worktree / ".git"
    if dot_git.is_file():  # a linked worktree: the copy reads the same (read-only) git data
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        target = (worktree / text.removeprefix("gitdir:").strip()).resolve()
        (dest / ".git").write_text(f"gitdir: {target}\n")
    elif dot_git.is_dir():
        (dest / ".git").write_text(f"gitdir: {dot_git.resolve()}\n")
    return dest


def _restore(copy: Path, path: str, content: bytes | None) -> None:
    target = copy / path
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    if content is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
