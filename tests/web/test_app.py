"""``orchestrator.web.app``: login, CSRF, refusals worded as the CLI words them, escaping."""

from __future__ import annotations

import html

from helpers import add_member, new_task

from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.project import Level
from orchestrator.state.workspace import Workspace
from orchestrator.workflow import runs

from .conftest import FINDING_LINE, LINK_TOKEN, csrf_of, login, reviewed_task, started_task

# ---- login ----


def test_the_link_logs_in_once_and_sets_a_strict_http_only_cookie(client) -> None:
    opened = client.get(f"/login?token={LINK_TOKEN}", follow_redirects=False)
    assert (opened.status_code, opened.headers["location"]) == (303, "/login")  # the token leaves the URL
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert LINK_TOKEN not in cookie
    client.cookies.clear()
    again = client.get(f"/login?token={LINK_TOKEN}")
    assert again.status_code == 403
    assert "this login link was used already or has expired" in again.text


def test_a_wrong_token_opens_nothing(client) -> None:
    assert client.get("/login?token=guess").status_code == 403
    assert client.get(f"/login?token={LINK_TOKEN}").status_code == 200  # the guess did not spend it


def test_pages_send_a_visitor_without_a_member_to_login(client) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    client.get(f"/login?token={LINK_TOKEN}")  # a session, but no member chosen yet
    assert client.get("/tasks/TASK_DEV_0001", follow_redirects=False).headers["location"] == "/login"


def test_login_offers_the_project_members_and_refuses_anyone_else(client) -> None:
    page = client.get(f"/login?token={LINK_TOKEN}").text
    assert '<option value="alice">alice (owner)</option>' in page
    assert '<option value="bob">bob (operator)</option>' in page
    chosen = client.post("/login", data={"member": "mallory", "csrf": csrf_of(page)})
    assert "error: &#39;mallory&#39; is not a member of this project" in chosen.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_every_response_carries_the_security_headers(client) -> None:
    login(client)
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["referrer-policy"]) == ("DENY", "same-origin")


# ---- every POST needs the cookie and the CSRF token ----


def test_a_forged_post_without_the_csrf_token_is_refused(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    login(client)
    for data in ({}, {"csrf": "forged"}):
        forged = client.post(f"/tasks/{tid}/approve", data=data)
        assert forged.status_code == 403
        assert "refused: this form&#39;s CSRF token is missing or wrong" in forged.text
    assert tasks.get(ws, tid).status.value == "reviewing"  # nothing merged
    trail = ws.audit_file(tid).read_text()
    assert trail.count(f"refused (csrf): web POST /tasks/{tid}/approve") == 2  # each one audited


def test_a_post_from_another_origin_is_refused_even_with_the_token(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    csrf = login(client)
    other = client.post(f"/tasks/{tid}/approve", data={"csrf": csrf}, headers={"origin": "http://evil.test"})
    assert other.status_code == 403
    assert tasks.get(ws, tid).status.value == "reviewing"
    assert "refused (csrf)" in ws.audit_file(tid).read_text()


def test_a_post_without_the_session_cookie_is_refused(ws: Workspace, client) -> None:
    csrf = login(client)
    client.cookies.clear()
    refused = client.post("/tasks/TASK_DEV_0001/approve", data={"csrf": csrf})
    assert refused.status_code == 403 and "refused: not logged in" in refused.text


# ---- the human checkpoint ----


def test_approving_merges_and_says_so_as_the_cli_does(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    csrf = login(client, "alice")
    page = client.post(f"/tasks/{tid}/approve", data={"csrf": csrf})
    merged = git.head(ws.root, "refs/heads/main")
    assert f"{tid}: done, round 1, verdict APPROVED; finished; merged as {merged[:12]}" in page.text
    assert tasks.get(ws, tid).status.value == "done"
    assert f'<p id="merged">Merged as <code>{merged}</code>.</p>' in page.text
    assert 'id="approve"' not in page.text  # nothing waits for a decision any more


def test_a_member_without_merge_is_refused_with_the_reason_and_it_is_audited(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    csrf = login(client, "bob")  # an operator (L3): merging needs an L2 lead
    page = client.post(f"/tasks/{tid}/approve", data={"csrf": csrf})
    flash = html.unescape(page.text.split('id="flash" role="status">')[1].split("</pre>")[0])
    assert flash == (
        "error: bob (L3 human operator) may not approve a merge: it needs an L2 project lead or higher\n"
        "  fix: ask a member who is an L2 project lead or higher (`aios member list` shows them)"
    )
    assert tasks.get(ws, tid).status.value == "reviewing"
    trail = ws.audit_file(tid).read_text()
    assert "refused (" in trail and "merge: bob (L3 human operator) may not approve a merge" in trail


def test_a_lead_added_later_may_approve(ws: Workspace, client) -> None:
    add_member(ws, "carol", Level.LEAD)  # members are read afresh on every request
    tid = reviewed_task(ws)
    csrf = login(client, "carol")
    client.post(f"/tasks/{tid}/approve", data={"csrf": csrf})
    assert tasks.get(ws, tid).status.value == "done"


def test_rejecting_with_feedback_starts_a_new_round(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    csrf = login(client, "bob")  # rejecting is an operator's right
    page = client.post(f"/tasks/{tid}/reject", data={"csrf": csrf, "feedback": "name it times"})
    assert f"{tid}: running, round 1, verdict APPROVED; waiting for the builder" in html.unescape(page.text)
    task = tasks.get(ws, tid)
    assert task.status.value == "running"
    last = task.events[-1]
    assert (last.actor, last.from_.value, last.to.value) == ("bob", "reviewing", "running")
    with runs.open_graph(ws) as graph:  # the builder's next round gets the feedback
        snapshot = graph.get_state({"configurable": {"thread_id": tid}})
    asked = [i.value for t in snapshot.tasks for i in t.interrupts]
    assert asked[0]["kind"] == "builder" and asked[0]["feedback"] == ["Human reviewer (bob): name it times"]


def test_rejecting_without_feedback_is_refused_in_the_cli_words(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    csrf = login(client)
    page = client.post(f"/tasks/{tid}/reject", data={"csrf": csrf, "feedback": ""})
    assert "error: rejecting needs feedback for the builder\n  fix: pass --feedback TEXT" in page.text
    assert tasks.get(ws, tid).status.value == "reviewing"


def test_a_decision_with_nothing_waiting_is_refused(ws: Workspace, client) -> None:
    tid = started_task(ws)
    csrf = login(client)
    page = html.unescape(client.post(f"/tasks/{tid}/approve", data={"csrf": csrf}).text)
    assert f"error: nothing is waiting for a decision on {tid}" in page


# ---- the pages ----


def test_the_task_page_shows_each_finding_at_its_line(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    login(client)
    page = client.get(f"/tasks/{tid}").text
    line = page.index(f'<tr class="line add" data-line="{FINDING_LINE}">')
    finding = page.index(f'<tr class="finding" data-line="{FINDING_LINE}">')
    assert line < finding and "+ import os" in page[line:finding]
    assert "<code>F401</code>" in page[finding:]
    assert "acceptance:AC1" in page and 'id="approve"' in page and "Audit trail" in page


def test_untrusted_text_is_escaped_everywhere(ws: Workspace, client) -> None:
    evil = "<script>alert(1)</script>"
    change = {"src/calc.py": f'"""Small arithmetic."""\n\n\ndef add(a, b):\n    return a + b  # {evil}\n'}
    tid = started_task(ws, title=f"Add {evil}", change=change)
    login(client)
    for page in (client.get("/").text, client.get(f"/tasks/{tid}").text):
        assert evil not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_board_puts_what_waits_for_a_human_first(ws: Workspace, client) -> None:
    reviewed = reviewed_task(ws)
    inbox = new_task(ws, title="Triage me")
    login(client)
    page = client.get("/").text
    waiting = page.split('id="waiting"')[1].split("</table>")[0]
    assert waiting.index(reviewed) < waiting.index(inbox)
    assert "decide the merge (approve or reject)" in waiting and "approve the TaskCard" in waiting
    assert '<section class="column" id="status-reviewing">' in page
    assert 'id="queues"' in page and '<section class="health health-green" id="health">' in page


def test_the_board_shows_a_freeze_and_the_health_colour(ws: Workspace, client) -> None:
    from orchestrator.governance import actions

    actions.freeze(ws, actor="alice", reason="release <1.0>")
    login(client)
    page = client.get("/").text
    assert "the system is frozen since" in page and "(release &lt;1.0&gt;)" in page
    health = page.split('<section class="health health-red" id="health">')[1].split("</section>")[0]
    assert "frozen" in health  # the reason `aios health` gives, beside the colour


def test_the_live_status_follows_the_run(ws: Workspace, client) -> None:
    tid = reviewed_task(ws)
    login(client)
    live = client.get(f"/tasks/{tid}/live").json()
    assert (live["status"], live["round"], live["waiting_for"], live["reports"]) == (
        "reviewing",
        1,
        "human_review",
        1,
    )


def test_an_unknown_task_is_refused_in_the_cli_words(client) -> None:
    login(client)
    page = client.get("/tasks/TASK_DEV_0042")
    assert page.status_code == 404 and "error: " in page.text and "TASK_DEV_0042" in page.text
    assert client.get("/tasks/..%2Fx").status_code == 404
