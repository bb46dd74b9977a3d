"""Security recall against bandit's own example files: ruff's S rules, with preview, bandit, and aios.

Bandit's functional test suite (``tests/functional/test_functional.py``) states how many issues each
example file (``examples/``) must give; bandit 1.9.4 itself gives their lines. Each tool runs once
over all examples; an expected issue is found when the tool reports a finding whose line span
overlaps it (``line``), and with the same rule number too (``rule``: ruff's S301 is bandit's B301).

Rows: ``ruff S`` (stable rules), ``ruff S --preview``, ``bandit``, and the reviewer's security
evidence as it runs (``aios``: ruff's selection plus bandit, one finding per file+line+rule) with
every rule on and with the shipped settings (which ignore S101 assert, S603/S607 subprocess calls).

Run: ``.venv/bin/python bench/bench_security_recall.py BANDIT_SRC [--files]`` where BANDIT_SRC is
an unpacked bandit 1.9.4 sdist (``pip download --no-deps --no-binary :all: bandit==1.9.4``), or set
``BANDIT_SRC``. Unsandboxed (trusted example files); prints figures, asserts nothing. ``--smoke``:
the first three example files only (without BANDIT_SRC it says so and stops, as always).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.review.evidence import _bandit
from orchestrator.review.evidence._ruff import run_ruff
from orchestrator.review.settings import BanditSettings, RuffSettings
from orchestrator.sandbox.bwrap import CommandResult, Limits, run_command

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Hit:
    """One reported issue: file, first and last line, rule number (``301`` for S301/B301)."""

    file: str
    line: int
    end_line: int
    number: str


class Runner:
    """Unsandboxed, in the bandit source folder; reports go to a temporary folder (a ReportingRunner)."""

    def __init__(self, root: Path) -> None:
        self.root, self.reports = root, Path(tempfile.gettempdir())

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        return run_command(argv, worktree=self.root, limits=Limits(timeout_s=600), sandbox=False)


# ---------------------------------------------------------------- what bandit's suite expects


def stated_counts(functional: Path) -> dict[str, int]:
    """Issues per example file as the functional suite states them (its first default-run check)."""
    out: dict[str, int] = {}
    for fn in ast.walk(ast.parse(functional.read_text())):
        if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_"):
            _counts_in(fn, out)
    return out


def _counts_in(fn: ast.FunctionDef, out: dict[str, int]) -> None:
    expect: dict[str, object] | None = None
    # In source order: a test may check several files, assigning ``expect`` before each.
    for node in sorted(ast.walk(fn), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "expect":
            expect = _named(fn, node.value)
        if _is_check(node) and expect is not None:
            name = node.args[0].value  # type: ignore[attr-defined]
            nosec = any(k.arg == "ignore_nosec" for k in node.keywords)  # type: ignore[attr-defined]
            table = expect.get("SEVERITY") or expect.get("CONFIDENCE") or {}
            if not nosec and name not in out and isinstance(table, dict):
                out[name] = sum(table.values())


def _named(fn: ast.FunctionDef, value: ast.expr) -> dict[str, object] | None:
    """``expect`` written with local names (``"LOW": confidence_low_tests``): their values put in."""
    names = {
        t.id: n.value
        for n in ast.walk(fn)
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }

    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return names.get(node.id, node)

    try:
        return ast.literal_eval(Substitute().visit(value))
    except ValueError:
        return None


def _is_check(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "check_example"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
    )


# ---------------------------------------------------------------- the tools


def ruff_hits(runner: Runner, files: list[str], *, preview: bool) -> list[Hit]:
    argv = [str(BIN / "ruff"), "check", "--isolated", "--no-cache", "--exit-zero", "--ignore-noqa"]
    argv += ["--select", "S", "--output-format", "json-lines", *(["--preview"] if preview else [])]
    with tempfile.TemporaryDirectory() as tmp:  # stdout keeps only its tail: read the whole report
        report = Path(tmp) / "ruff.jsonl"
        runner([*argv, "--output-file", str(report), "--", *files])
        lines = report.read_text().splitlines()
    hits = []
    for raw in lines:
        item = json.loads(raw)
        code = item.get("code") or ""
        if code.startswith("S"):
            hits.append(_hit(item["filename"], item["location"]["row"], item["end_location"]["row"], code))
    return hits


def _hit(path: str, line: int, end: int, rule: str) -> Hit:
    rel = os.path.relpath(path) if os.path.isabs(path) else path.removeprefix("./")
    return Hit(rel, line, max(line, end), rule[1:])


def bandit_issues(runner: Runner, files: list[str]) -> list[_bandit.Issue]:
    settings = BanditSettings(command=[str(BIN / "bandit")])
    _, issues, why = _bandit.run_bandit(runner, files, settings=settings, honour_nosec=True)
    if issues is None:
        raise SystemExit(f"bandit did not run: {why}")
    return issues


def aios_hits(runner: Runner, files: list[str], *, shipped: bool) -> list[Hit]:
    """The reviewer's security evidence: ruff's selection, then bandit's issues ruff did not report."""
    ruff = RuffSettings(command=[str(BIN / "ruff")])
    if not shipped:
        ruff = ruff.model_copy(update={"ignore": [], "per_file_ignores": {}})
    _, diagnostics, why = run_ruff(runner, files, settings=ruff, select=ruff.select)
    if diagnostics is None:
        raise SystemExit(f"ruff did not run: {why}")
    kept = [d for d in diagnostics if d.rule.startswith("S")]
    settings = BanditSettings(command=[str(BIN / "bandit")])
    _, issues, _ = _bandit.run_bandit(runner, files, settings=settings, honour_nosec=ruff.honour_noqa)
    extra = _bandit.not_reported(issues or [], [(d.file, d.line, d.rule) for d in kept])
    extra = [i for i in extra if not _bandit.ignored(i.rule, i.file, ruff)]
    return [Hit(d.file, d.line, d.end_line, d.rule[1:]) for d in kept] + [
        Hit(i.file, i.line, i.end_line, i.rule[1:]) for i in extra
    ]


# ---------------------------------------------------------------- scoring


def found(expected: list[Hit], hits: list[Hit], *, by_rule: bool) -> list[Hit]:
    """The expected issues some hit overlaps (and names the same rule number, ``by_rule``)."""
    return [
        e
        for e in expected
        if any(
            h.file == e.file
            and h.line <= e.end_line
            and e.line <= h.end_line
            and (not by_rule or h.number == e.number)
            for h in hits
        )
    ]


def timed(fn: Callable[[], list[Hit]]) -> tuple[list[Hit], float]:
    start = time.perf_counter()
    hits = fn()
    return hits, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bandit_src", nargs="?", default=os.environ.get("BANDIT_SRC"))
    parser.add_argument("--files", action="store_true", help="also print the table per example file")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    root = Path(args.bandit_src or "")
    functional = root / "tests/functional/test_functional.py"
    if not args.bandit_src or not (root / "examples").is_dir() or not functional.is_file():
        print("skipped: give an unpacked bandit 1.9.4 sdist (examples/, tests/functional/) as BANDIT_SRC")
        return
    os.chdir(root)
    stated = stated_counts(functional)
    files = sorted(f"examples/{n}" for n in stated if (root / "examples" / n).is_file())
    files = files[:3] if args.smoke else files
    runner = Runner(root)
    issues, bandit_s = timed(lambda: bandit_issues(runner, files))  # type: ignore[arg-type, return-value]
    expected = [Hit(i.file, i.line, i.end_line, i.test_id[1:]) for i in issues]
    tools = {
        "ruff S": lambda: ruff_hits(runner, files, preview=False),
        "ruff S --preview": lambda: ruff_hits(runner, files, preview=True),
        "bandit 1.9.4": lambda: expected,
        "aios (every rule on)": lambda: aios_hits(runner, files, shipped=False),
        "aios (shipped settings)": lambda: aios_hits(runner, files, shipped=True),
    }
    _report(stated, files, expected, tools, bandit_s, per_file=args.files)


def _report(
    stated: dict[str, int],
    files: list[str],
    expected: list[Hit],
    tools: dict[str, Callable[[], list[Hit]]],
    bandit_s: float,
    *,
    per_file: bool,
) -> None:
    total = sum(stated[f.removeprefix("examples/")] for f in files)
    print(
        f"{len(files)} example files; the suite states {total} issues, bandit 1.9.4 reports {len(expected)}"
    )
    for f in files:
        got = sum(1 for e in expected if e.file == f)
        if got != stated[f.removeprefix("examples/")]:
            said = stated[f.removeprefix("examples/")]
            print(f"  {f}: stated {said}, bandit's CLI gives {got} (the suite runs it with a custom profile)")
    print(f"\n{'tool':<26}{'found/expected (line)':>22}{'recall':>8}{'(line+rule)':>13}{'wall s':>8}")
    results = {}
    for name, fn in tools.items():
        hits, seconds = timed(fn)
        seconds = bandit_s if name.startswith("bandit") else seconds
        by_line, by_rule = found(expected, hits, by_rule=False), found(expected, hits, by_rule=True)
        results[name] = hits
        n = len(expected)
        share, strict = len(by_line) / n, len(by_rule) / n
        print(f"{name:<26}{f'{len(by_line)}/{n}':>22}{share:>8.3f}{strict:>13.3f}{seconds:>8.2f}")
    print("\nmissed, by bandit test id:")
    for name, hits in results.items():
        missed = Counter(f"B{e.number}" for e in expected if e not in found(expected, hits, by_rule=False))
        print(f"  {name}: {', '.join(f'{k} {v}' for k, v in sorted(missed.items())) or 'none'}")
    if per_file:
        _per_file(files, expected, results)


def _per_file(files: list[str], expected: list[Hit], results: dict[str, list[Hit]]) -> None:
    names = list(results)
    print(f"\n{'file (found by line / bandit)':<44}" + "".join(f"{n[:14]:>16}" for n in names))
    for f in files:
        mine = [e for e in expected if e.file == f]
        cells = [f"{len(found(mine, results[n], by_rule=False))}/{len(mine)}" for n in names]
        print(f"{f.removeprefix('examples/'):<44}" + "".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
