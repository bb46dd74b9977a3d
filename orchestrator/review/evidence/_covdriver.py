"""Run pytest under coverage and print which changed lines ran. Executed by path, inside the sandbox.

Usage: ``python _covdriver.py [--include FILE]... -- PYTEST_ARGS...``

It writes nothing into the worktree (no ``.coverage`` file, no bytecode, no pytest cache: the
orchestrator commits the worktree after each round) and imports only the standard library,
coverage and pytest, because ``orchestrator`` need not be importable in the sandbox. Its exit code
is pytest's; ``3`` with a ``MARKER-ERROR`` line when coverage or pytest are missing. The last
stdout line is ``MARKER {"path": {"statements": [...], "missing": [...]}}``.
"""

from __future__ import annotations

import json
import os
import sys

MARKER = "AIOS-COVERAGE"


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    sep = argv.index("--") if "--" in argv else len(argv)
    head, pytest_args = argv[:sep], argv[sep + 1 :]
    includes = [head[i + 1] for i, arg in enumerate(head[:-1]) if arg == "--include"]
    return includes, pytest_args


def _analyse(cov: object, includes: list[str]) -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {}
    for rel in includes:
        try:
            _, statements, _, missing, _ = cov.analysis2(os.path.abspath(rel))  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001, S112 - an unparsable file simply has no coverage to report
            continue
        out[rel] = {"statements": sorted(statements), "missing": sorted(missing)}
    return out


def main(argv: list[str]) -> int:
    """Run pytest with coverage restricted to ``--include`` files and print the marker line."""
    sys.dont_write_bytecode = True
    # Like `python -m pytest`: the project (cwd) comes first on sys.path, not this script's folder.
    sys.path[0] = os.getcwd()
    try:
        import coverage
        import pytest
    except ImportError as exc:
        print(f"{MARKER}-ERROR cannot import {exc.name}: install coverage and pytest", flush=True)
        return 3
    includes, pytest_args = _split(argv)
    if not includes:  # nothing to measure: skip the tracer's overhead
        code = int(pytest.main(pytest_args))
        print(f"\n{MARKER} {{}}", flush=True)
        return code
    cov = coverage.Coverage(data_file=None, include=[os.path.abspath(p) for p in includes])
    cov.start()
    try:
        code = int(pytest.main(pytest_args))
    finally:
        cov.stop()
    # stdout is this script's protocol with the collector, hence print.
    print(f"\n{MARKER} {json.dumps(_analyse(cov, includes))}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
