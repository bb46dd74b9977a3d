"""Run pytest under coverage and print which changed lines ran. Executed by path, inside the sandbox.

Usage: ``python _covdriver.py [--include FILE]... [--fallback NAME,NAME...=DIR]... [--report DIR] -- ARGS...``
(``ARGS``: pytest's).

``--report DIR`` (a folder outside the worktree): pytest writes its junit XML to ``DIR/junit.xml``
(``xunit1``, so each case names its file) and the coverage data goes to ``DIR/coverage.json``
instead of the marker line, so the collector reads both in full whatever the size of the output.

It runs under the project's own interpreter (its venv), so the tests import the project's
dependencies. ``--fallback NAME,NAME=DIR`` lets it import the top-level modules ``NAME`` from ``DIR``
(aios's own site-packages) when the project's environment has none: coverage and pytest with
what they need, nothing else of aios's, and only after the project's own paths were searched, so
the project's own versions always win. Nothing is installed anywhere.

It writes nothing into the worktree (no ``.coverage`` file, no bytecode, no pytest cache: the
orchestrator commits the worktree after each round) and imports only the standard library,
coverage and pytest, because ``orchestrator`` need not be importable in the sandbox. Its exit code
is pytest's; ``3`` with a ``MARKER-ERROR`` line when pytest is missing, or coverage with files to
measure (without ``--include`` it is never imported). Before the
tests it prints ``MARKER-ENV {"python": ..., "borrowed": [...]}`` (the interpreter, and the
modules taken from ``--fallback``); the last stdout line is
``MARKER {"path": {"statements": [...], "missing": [...]}}``.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys
from typing import Any

MARKER = "AIOS-COVERAGE"


def _split(argv: list[str]) -> tuple[list[str], dict[str, str], list[str], str | None]:
    sep = argv.index("--") if "--" in argv else len(argv)
    head, pytest_args = argv[:sep], argv[sep + 1 :]
    includes = [head[i + 1] for i, arg in enumerate(head[:-1]) if arg == "--include"]
    pairs = [head[i + 1].partition("=") for i, arg in enumerate(head[:-1]) if arg == "--fallback"]
    places = {name: folder for names, _, folder in pairs for name in names.split(",") if name}
    report = next((head[i + 1] for i, arg in enumerate(head[:-1]) if arg == "--report"), None)
    if report:
        junit = os.path.join(report, "junit.xml")
        pytest_args = [f"--junitxml={junit}", "-o", "junit_family=xunit1", *pytest_args]
    return includes, places, pytest_args, report


def _emit(data: dict[str, Any], report: str | None) -> None:
    """The coverage data: into the report folder when there is one, else on the marker line."""
    if report:
        with open(os.path.join(report, "coverage.json"), "w", encoding="utf-8") as out:
            json.dump(data, out)
        data = {}
    # stdout is this script's protocol with the collector, hence print.
    print(f"\n{MARKER} {json.dumps(data)}", flush=True)


class _Fallback:
    """A last-resort finder: the allowed top-level modules, from aios's folder, when nothing else has them."""

    def __init__(self, places: dict[str, str]) -> None:
        self.places = places
        self.borrowed: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if path is not None or name not in self.places:
            return None  # submodules come from their package's own folder
        spec = importlib.machinery.PathFinder.find_spec(name, [self.places[name]])
        if spec is not None:
            self.borrowed.append(name)
        return spec


def _analyse(cov: object, includes: list[str]) -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {}
    for rel in includes:
        try:
            _, statements, _, missing, _ = cov.analysis2(os.path.abspath(rel))  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001, S112 - an unparsable file simply has no coverage to report
            continue
        out[rel] = {"statements": sorted(statements), "missing": sorted(missing)}
    return out


def _coverage(includes: list[str]) -> Any:
    """The coverage module, or None with nothing to measure: an unmeasured run never imports it."""
    if not includes:
        return None
    import coverage

    return coverage


def main(argv: list[str]) -> int:
    """Run pytest with coverage restricted to ``--include`` files and print the marker line."""
    sys.dont_write_bytecode = True
    # Like `python -m pytest`: the project (cwd) comes first on sys.path, not this script's folder.
    sys.path[0] = os.getcwd()
    includes, places, pytest_args, report = _split(argv)
    fallback = _Fallback(places)
    sys.meta_path.append(fallback)  # after every normal finder: the project's modules come first
    try:
        coverage = _coverage(includes)
        import pytest
    except ImportError as exc:
        print(f"{MARKER}-ERROR cannot import {exc.name}: install coverage and pytest", flush=True)
        return 3
    env = {"python": sys.executable, "borrowed": sorted(set(fallback.borrowed) & {"coverage", "pytest"})}
    print(f"{MARKER}-ENV {json.dumps(env)}", flush=True)
    if coverage is None:  # nothing to measure: skip the tracer's overhead
        code = int(pytest.main(pytest_args))
        _emit({}, report)
        return code
    cov = coverage.Coverage(data_file=None, include=[os.path.abspath(p) for p in includes])
    cov.start()
    try:
        code = int(pytest.main(pytest_args))
    finally:
        cov.stop()
    _emit(_analyse(cov, includes), report)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
