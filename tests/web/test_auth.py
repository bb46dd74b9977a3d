"""``orchestrator.web.auth``: the login link is single-use and short-lived; CSRF is per session."""

from __future__ import annotations

from orchestrator.web.auth import LINK_TTL_S, SESSION_TTL_S, Gate, csrf_ok


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_random_link_token_each_server() -> None:
    assert Gate().link_token != Gate().link_token and len(Gate().link_token) >= 40


def test_the_link_opens_one_session_only() -> None:
    gate = Gate("t")
    first = gate.redeem("t")
    assert first is not None and gate.session(first.id) is first
    assert gate.redeem("t") is None


def test_the_link_expires_unused() -> None:
    clock = Clock()
    gate = Gate("t", clock=clock)
    clock.now += LINK_TTL_S + 1
    assert gate.redeem("t") is None


def test_a_session_expires_and_ends() -> None:
    clock = Clock()
    gate = Gate("t", clock=clock)
    opened = gate.redeem("t")
    assert opened is not None
    clock.now += SESSION_TTL_S + 1
    assert gate.session(opened.id) is None
    assert gate.session(None) is None and gate.session("") is None


def test_csrf_is_the_sessions_own_token() -> None:
    gate = Gate("t")
    one = gate.redeem("t")
    assert one is not None
    assert csrf_ok(one, one.csrf)
    assert not csrf_ok(one, "") and not csrf_ok(one, None) and not csrf_ok(one, one.id)
    assert one.csrf != one.id


def test_a_flash_is_shown_once() -> None:
    opened = Gate("t").redeem("t")
    assert opened is not None
    opened.flash = ("ok", "merged")
    assert opened.take_flash() == ("ok", "merged") and opened.take_flash() is None
