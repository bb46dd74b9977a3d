"""``orchestrator._gc``: the collector paused over a whole scan, and on again after it."""

from __future__ import annotations

import gc

import pytest

from orchestrator import _gc


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    assert gc.isenabled()
    with _gc.paused():
        assert not gc.isenabled()
        with _gc.paused():  # a scan inside a paused operation
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause does not end the outer one
    assert gc.isenabled()


def test_an_error_inside_turns_the_collector_on_again() -> None:
    @_gc.pausing
    def broken() -> None:
        assert not gc.isenabled()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        broken()
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    try:
        with _gc.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
