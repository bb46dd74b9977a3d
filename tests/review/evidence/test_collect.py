"""Gathering the four dimensions: concurrently, each with its own time limit, crashes as errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.review import evidence as ev
from orchestrator.review.evidence import (
    EvidenceStatus,
    collect_dimension,
    gather_evidence,
    render_evidence,
)
from orchestrator.review.evidence.quality import ruff_check
from orchestrator.review.findings import Dimension
from orchestrator.sandbox.bwrap import CommandResult
from orchestrator.state.taskcard import Criterion

from .fakes import ctx_for, fake, ruff_line


def test_dimensions_are_gathered_concurrently(tmp_path: Path) -> None:
    def slow(timeout_s: float):
        def run(argv):
            time.sleep(0.3)
            return CommandResult(tuple(argv), 127, "", "nope", 0.3)

        return run

    criteria = [Criterion(id="AC1", text="t", check="true")]
    ctx = ctx_for(tmp_path, criteria=criteria)
    start = time.perf_counter()
    results = gather_evidence(ctx, slow)
    elapsed = time.perf_counter() - start
    # Q and O run two commands each, one after another: 0.6 s concurrently against 1.5 s in sequence.
    assert elapsed < 1.1
    assert {r.dimension for r in results if r.status is EvidenceStatus.ERROR} == set(Dimension)


def test_each_dimension_gets_its_own_time_limit(tmp_path: Path) -> None:
    seen: list[float] = []

    def record(timeout_s: float):
        seen.append(timeout_s)
        return fake("", 127)

    gather_evidence(ctx_for(tmp_path), record, concurrent=False)
    assert seen == [60.0, 120.0, 300.0, 60.0]


def test_a_crashing_collector_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx, run):
        raise RuntimeError("bug")

    monkeypatch.setitem(ev.COLLECTORS, Dimension.OPTIMIZATION, boom)
    [result] = collect_dimension(ctx_for(tmp_path), Dimension.OPTIMIZATION, lambda t: fake())
    assert result.status is EvidenceStatus.ERROR and "RuntimeError: bug" in (result.reason or "")


def test_render_evidence_for_a_prompt(tmp_path: Path) -> None:
    result = ruff_check(ctx_for(tmp_path), fake(ruff_line("S608", 3)))
    text = render_evidence([result])
    assert text.splitlines()[:2] == [
        "[Q] ruff: FAILED",
        "  - critical app/x.py:3 S608: msg",
    ]
