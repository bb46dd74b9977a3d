"""Every benchmark runs as a smoke test: ``bench/<name>.py --smoke`` exits 0 (no timing asserted).

The files are found, not listed, so a new benchmark joins by being there. A benchmark that needs
what CI lacks is skipped with the reason (`NEEDS`). The benchmarks run in parallel threads, each
in its own process, started once for the whole module: together they take about as long as the
slowest one, not the sum.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
FILES = sorted(p.name for p in BENCH.glob("bench_*.py"))
TIMEOUT_S = 300.0


def _bandit_src() -> str | None:
    src = os.environ.get("BANDIT_SRC")
    if src and (Path(src) / "examples").is_dir():
        return None
    return "needs an unpacked bandit 1.9.4 sdist as BANDIT_SRC (a download; CI has no network)"


NEEDS: dict[str, Callable[[], str | None]] = {"bench_security_recall.py": _bandit_src}
"""Benchmarks that need what CI lacks: the reason to skip, or None when it is there."""


def _environment(cache: Path) -> dict[str, str]:
    """The caller's environment without aios's settings, a throwaway scan cache, a git identity.

    The module's fixture starts before the per-test clean environment, so it cleans its own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOS_")}
    env |= {"AIOS_CACHE_DIR": str(cache), "AIOS_MODEL": "fake"}
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        env.setdefault(key, "bench")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        env.setdefault(key, "bench@example.com")
    return env


def _run(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / name), "--smoke"],
        cwd=BENCH.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[subprocess.CompletedProcess[str]]]:
    """Every runnable benchmark's ``--smoke`` run, started at once in parallel threads."""
    env = _environment(tmp_path_factory.mktemp("bench-cache"))
    runnable = [name for name in FILES if not (name in NEEDS and NEEDS[name]())]
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bench-smoke")
    runs = {name: pool.submit(_run, name, env) for name in runnable}
    pool.shutdown(wait=False)
    return runs


@pytest.mark.skipif(not BENCH.is_dir(), reason="bench/ is in the checkout, not the installed wheel")
def test_every_benchmark_is_found() -> None:
    assert "bench_review_overhead.py" in FILES and len(FILES) >= 12


@pytest.mark.parametrize("name", FILES)
def test_benchmark_runs_as_a_smoke_test(
    name: str, started: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    reason = NEEDS[name]() if name in NEEDS else None
    if reason:
        pytest.skip(reason)
    done = started[name].result()
    assert done.returncode == 0, f"{name} --smoke failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{name} --smoke printed no figures"
