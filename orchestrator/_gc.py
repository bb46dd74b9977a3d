"""The cyclic garbage collector paused while a full scan builds tens of thousands of objects.

A scan of 50,000 task files builds a few objects per file and frees none until it ends; the
collector would walk them again and again for nothing (a third of the scan), and once more right
after it, when everything the scan built and dropped is still counted as new. Paused over the
whole operation, what the operation drops is freed by reference counting before the collector
runs again, and only what it returns is ever walked.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside; on again after, unless it was already off (nesting is free)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def pausing(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``func`` run with the collector ``paused``: for a whole operation over every task."""

    @wraps(func)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with paused():
            return func(*args, **kwargs)

    return run
