"""``aios serve`` end to end in a real headless Chromium (Debian's, driven by Playwright).

The server runs as a subprocess on a free port; the test reads the login link from its stdout,
logs in through the page, and approves or rejects as a person would. A screenshot of the task
page is kept under ``$AIOS_TEST_ARTIFACTS`` (default: a folder in the temp dir).

Skipped only when chromium or playwright is missing and ``CI`` is unset; under CI they must run.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.sandbox.bwrap import bwrap_available
from orchestrator.state import tasks
from orchestrator.state.workspace import Workspace
from orchestrator.web.server import MaskToken
from orchestrator.workflow import runs

from .conftest import FINDING_LINE, reviewed_task

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LINK = re.compile(r"^http://127\.0\.0\.1:(\d+)/login\?token=([A-Za-z0-9_-]{40,})$")


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return "Debian's chromium is not installed (`apt-get install -y chromium`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; under CI the browser tests must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Served:
    link: str
    base: str
    token: str
    process: subprocess.Popen[str]
    stderr: Path


@pytest.fixture
def served(ws: Workspace, tmp_path: Path) -> Iterator[Served]:
    """``aios serve --port 0`` on ``ws``; stopped by its PID at the end."""
    stderr = tmp_path / "serve.stderr"
    args = [sys.executable, "-m", "orchestrator", "--root", str(ws.root), "serve", "--port", "0"]
    args += [] if bwrap_available() else ["--no-sandbox"]
    with stderr.open("w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ws.root)
    try:
        line = _first_line(proc, timeout=60)
        found = LINK.match(line)
        assert found, f"not a login link: {line!r}; stderr: {stderr.read_text()}"
        yield Served(line, f"http://127.0.0.1:{found.group(1)}", found.group(2), proc, stderr)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _first_line(proc: subprocess.Popen[str], *, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).rstrip("\n")
    except queue.Empty:
        pytest.fail("aios serve printed no login link within a minute")


def _login(browser, served: Served, member: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(served.link)
    page.select_option("#member-choice", member)
    page.click("#login")
    assert page.text_content("#member") == member
    return page


def _artifacts() -> Path:
    folder = Path(
        os.environ.get("AIOS_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "aios-test-artifacts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_lead_sees_the_finding_at_its_line_approves_and_it_is_merged(
    ws: Workspace, browser, served: Served, record_property
) -> None:
    tid = reviewed_task(ws)
    page = _login(browser, served, "alice")
    page.click(f"#waiting a:text('{tid}')")  # the board lists it first: it waits for a human
    calc = page.locator('div.file[data-path="src/calc.py"]')
    line = calc.locator(f'tr.line[data-line="{FINDING_LINE}"]')
    assert "import os" in line.inner_text()
    finding = calc.locator(f'tr.finding[data-line="{FINDING_LINE}"]')
    assert finding.is_visible() and "F401" in finding.inner_text()
    # The finding's row comes right after its line in the diff table.
    assert line.evaluate("row => row.nextElementSibling.classList.contains('finding')")
    shot = _artifacts() / f"task-page-{tid}.png"
    page.screenshot(path=str(shot), full_page=True)
    record_property("screenshot", str(shot))
    print(f"screenshot of the task page: {shot}")
    assert shot.stat().st_size > 10_000

    page.click("#approve")
    assert "verdict APPROVED; finished; merged as" in page.text_content("#flash")
    assert page.text_content("#task-status") == "done"
    assert page.is_visible("#merged")
    assert tasks.get(ws, tid).status.value == "done"
    page.close()


def test_a_member_without_merge_is_refused_with_the_reason(ws: Workspace, browser, served: Served) -> None:
    tid = reviewed_task(ws)
    page = _login(browser, served, "bob")
    page.goto(f"{served.base}/tasks/{tid}")
    page.click("#approve")
    assert page.text_content("#flash") == (
        "error: bob (L3 human operator) may not approve a merge: it needs an L2 project lead or higher\n"
        "  fix: ask a member who is an L2 project lead or higher (`aios member list` shows them)"
    )
    assert page.text_content("#task-status") == "reviewing"
    page.close()


def test_a_forged_post_without_the_csrf_token_is_refused(ws: Workspace, browser, served: Served) -> None:
    tid = reviewed_task(ws)
    page = _login(browser, served, "alice")
    forged = page.request.post(f"{served.base}/tasks/{tid}/approve", form={"feedback": "x"})
    assert forged.status == 403 and "CSRF token is missing or wrong" in forged.text()
    assert tasks.get(ws, tid).status.value == "reviewing"
    page.close()


def test_reject_with_feedback_starts_a_new_round(ws: Workspace, browser, served: Served) -> None:
    tid = reviewed_task(ws)
    page = _login(browser, served, "alice")
    page.goto(f"{served.base}/tasks/{tid}")
    page.fill("#feedback", "call it times, not mul")
    page.click("#reject")
    assert f"{tid}: running, round 1, verdict APPROVED; waiting for the builder" in page.text_content(
        "#flash"
    )
    assert page.text_content("#task-status") == "running"
    page.close()


def test_the_page_follows_a_decision_made_elsewhere(ws: Workspace, browser, served: Served) -> None:
    tid = reviewed_task(ws)
    page = _login(browser, served, "alice")
    page.goto(f"{served.base}/tasks/{tid}")
    runs.answer(ws, tid, "approve", actor="alice")  # as `aios review approve` in a terminal
    page.wait_for_selector("#merged", timeout=15_000)  # the page polled, saw it move, reloaded
    assert page.text_content("#task-status") == "done"
    page.close()


def test_the_login_token_never_reaches_the_log(ws: Workspace, browser, served: Served) -> None:
    page = _login(browser, served, "alice")
    page.close()
    log = served.stderr.read_text()
    assert "/login?token=***" in log  # the access log saw the request...
    assert served.token not in log  # ...with the token masked


def test_mask_token_masks_the_access_log_arguments() -> None:
    import logging

    record = logging.LogRecord(
        "uvicorn.access", 20, "", 0, '%s "%s %s"', ("c", "GET", "/login?token=abc"), None
    )
    MaskToken().filter(record)
    assert record.getMessage() == 'c "GET /login?token=***"'
