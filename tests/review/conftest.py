"""Fixtures: a sample repository on a task branch, and plain subprocess runners (no sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import plain_runner_factory

from orchestrator.review.evidence import RunnerFactory

from .sample import SampleRepo, make_sample_repo


@pytest.fixture
def sample_repo(tmp_path: Path) -> SampleRepo:
    """A fresh sample repository on its task branch."""
    return make_sample_repo(tmp_path)


@pytest.fixture
def runners() -> Callable[[Path], RunnerFactory]:
    """``runners(worktree)``: plain subprocess runners, no sandbox."""
    return plain_runner_factory
