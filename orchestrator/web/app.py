"""The web shell's routes: the board, a task, the human checkpoint's decision.

Each route calls the service the matching CLI command calls and words the outcome as the CLI
does (a result line, or ``error: <AiosError.render()>``). Who may act is decided by the services'
governance checks with the member chosen at login, on every request; every refusal is audited
there. Every POST needs the session cookie and the session's CSRF token; every page is rendered
with autoescape, and every value passes the redactor first (findings and diffs are untrusted).

Example:
    ``create_app(ws.root, gate=Gate())`` is the ASGI app ``aios serve`` runs with uvicorn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator._text import visible
from orchestrator.errors import AiosError, PermissionDenied, StateError
from orchestrator.redact import redact
from orchestrator.state.taskcard import TASK_ID
from orchestrator.web.auth import COOKIE, CSRF_FIELD, SESSION_TTL_S, Gate, WebSession, csrf_ok

HERE = Path(__file__).parent
#: The only files under /static/, with their types (nothing else on disk is served).
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
#: Sent with every response: no inline script or style runs, no other site frames the page or
#: learns its addresses. ``same-origin``, not ``no-referrer``: with no referrer a browser sends
#: ``Origin: null`` on the page's own forms, which ``same_origin`` would refuse.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
FORGED = (
    "refused: this form's CSRF token is missing or wrong (a page of another site, or an old page)\n"
    "  fix: reload the page and act from it"
)
SPENT_LINK = (
    "refused: this login link was used already or has expired\n  fix: restart `aios serve` for a new link"
)
NO_SESSION = "refused: not logged in\n  fix: open the login link `aios serve` printed"

Action = Literal["approve", "reject"]


def shown(value: Any) -> Any:
    """Every value a template prints: secrets masked, control characters written as escapes.

    Autoescape then turns what is left into HTML text, so a finding's ``<script>`` prints as written.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(redact(value), keep="\n\t")
    return value


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        finalize=shown,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["csrf_field"] = CSRF_FIELD
    return env


class Web:
    """The routes of one server: its workspace root, its login gate, its sandbox choice."""

    def __init__(self, root: Path, *, gate: Gate, sandbox: bool = True) -> None:
        self.root, self.gate, self.sandbox = root, gate, sandbox
        self.env = templates()

    def workspace(self) -> Any:
        """The workspace, read afresh: a long-running server sees members and settings change."""
        from orchestrator.state.workspace import Workspace

        return Workspace(self.root)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.board_page),
            Route("/ping", ping),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/static/{name}", static),
            Route("/tasks/{tid}", self.task, methods=["GET"]),
            Route("/tasks/{tid}/live", self.live, methods=["GET"]),
            Route("/tasks/{tid}/approve", self.approve, methods=["POST"]),
            Route("/tasks/{tid}/reject", self.reject, methods=["POST"]),
        ]

    def render(self, name: str, session: WebSession | None, *, status: int = 200, **ctx: Any) -> HTMLResponse:
        flash = session.take_flash() if session is not None else None
        page = self.env.get_template(name).render(session=session, flash=flash, **ctx)
        return HTMLResponse(page, status_code=status)

    def refused(self, text: str, session: WebSession | None, *, status: int = 403) -> HTMLResponse:
        return self.render("error.html", session, status=status, message=text)

    def forged(self, request: Request, session: WebSession, tid: str | None) -> HTMLResponse:
        """Refuse a POST without this page's CSRF token or origin, audited as every refusal is."""
        from orchestrator.errors import PermissionDenied
        from orchestrator.governance.authority import record_refusal

        denied = PermissionDenied("the form's CSRF token or origin is missing or wrong", rule="csrf")
        task = tid if tid is not None and TASK_ID.match(tid) else None
        what = f"web POST {request.url.path}"
        record_refusal(
            self.workspace(), denied, actor=session.member or "web:unknown", what=what, task_id=task
        )
        return self.refused(FORGED, session)

    # ---- login ----

    def login_page(self, request: Request) -> Response:
        """``/login?token=...`` redeems the printed link once; then the member is chosen here."""
        session = self.gate.session(request.cookies.get(COOKIE))
        if session is None:
            opened = self.gate.redeem(request.query_params.get("token", ""))
            if opened is None:
                return self.refused(SPENT_LINK, None)
            # Off the URL at once: the token is spent, and the address bar and history drop it.
            response = RedirectResponse("/login", status_code=303)
            response.set_cookie(
                COOKIE, opened.id, max_age=SESSION_TTL_S, httponly=True, samesite="strict", path="/"
            )
            return response
        return self.render("login.html", session, members=self.workspace().project.members)

    async def login(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        session, form = posted
        name = str(form.get("member", ""))
        if self.workspace().project.member(name) is None:
            session.flash = (
                "error",
                f"error: {name!r} is not a member of this project\n  fix: choose one listed",
            )
            return RedirectResponse("/login", status_code=303)
        session.member = name
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        self.gate.end(posted[0])
        response = self.refused("Logged out. Open a new login link to come back.", None, status=200)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---- pages ----

    def board_page(self, request: Request) -> Response:
        from orchestrator.web.pages import board

        found = self._reader(request)
        if isinstance(found, Response):
            return found
        session, ws = found
        return self.render("board.html", session, board=board(ws))

    def task(self, request: Request) -> Response:
        from orchestrator.web.pages import task_page

        found = self._reader(request, request.path_params["tid"])
        if isinstance(found, Response):
            return found
        session, ws = found
        return self.render("task.html", session, page=task_page(ws, request.path_params["tid"]))

    def live(self, request: Request) -> Response:
        """Where the task's run stands, for the page to poll while a review runs."""
        from orchestrator.review.report import reports
        from orchestrator.workflow import runs

        tid = request.path_params["tid"]
        found = self._reader(request, tid)
        if isinstance(found, Response):
            return JSONResponse({"error": "refused"}, status_code=found.status_code)
        ws = found[1]
        try:
            run = runs.status(ws, tid)
        except AiosError as exc:
            return JSONResponse({"error": redact(exc.render())}, status_code=409)
        fields = ("status", "round", "verdict", "waiting_for", "merged")
        data = {k: getattr(run, k) for k in fields} | {"reports": len(reports(ws, tid))}
        return JSONResponse(data | {"line": redact(describe(run))})

    # ---- the human checkpoint ----

    async def approve(self, request: Request) -> Response:
        return await self._decide(request, "approve")

    async def reject(self, request: Request) -> Response:
        return await self._decide(request, "reject")

    async def _decide(self, request: Request, action: Action) -> Response:
        posted = await self._posted(request, request.path_params["tid"])
        if isinstance(posted, Response):
            return posted
        session, form = posted
        tid, feedback = request.path_params["tid"], str(form.get("feedback", "")) or None
        if session.member is None:
            return RedirectResponse("/login", status_code=303)
        # A decision runs the graph (a merge, or the next round's start): off the event loop.
        session.flash = await run_in_threadpool(self.answer, tid, action, session.member, feedback)
        return RedirectResponse(f"/tasks/{tid}", status_code=303)

    def answer(self, tid: str, action: Action, member: str, feedback: str | None) -> tuple[str, str]:
        """``aios review approve|reject`` as ``member``: (``ok``, the result line) or (``error``, why)."""
        from orchestrator.workflow import runs
        from orchestrator.workflow.options import RunOptions

        ws = self.workspace()
        options = RunOptions(sandbox=self.sandbox)
        try:
            result = runs.answer(ws, tid, action, actor=member, feedback=feedback, options=options)
            if result.note is not None and not (action == "approve" and result.merged):
                # As the CLI: a decision that did nothing is refused, and the note says why.
                fix = f"`aios review status {tid}` shows what the task waits for"
                raise StateError(result.note, fix=fix)
        except AiosError as exc:
            return "error", f"error: {exc.render()}"
        return "ok", describe(result)

    # ---- who is asking ----

    def _reader(self, request: Request, tid: str | None = None) -> tuple[WebSession, Any] | Response:
        """The session and workspace, once its member may read (``tid``); else a login or a refusal."""
        from orchestrator.governance import actions
        from orchestrator.governance.matrix import Op

        session = self.gate.session(request.cookies.get(COOKIE))
        if session is None or session.member is None:
            return RedirectResponse("/login", status_code=303)
        if tid is not None and not TASK_ID.match(tid):
            return self.refused(f"error: {tid!r} is not a task id (TASK_<QUEUE>_<NNNN>)", session, status=404)
        ws = self.workspace()
        try:
            actions.require(ws, Op.READ, actor=session.member, task_id=tid)
        except PermissionDenied as exc:
            return self.refused(f"error: {exc.render()}", session)
        except AiosError as exc:  # an unknown task, a broken state file
            return self.refused(f"error: {exc.render()}", session, status=404)
        return session, ws

    async def _posted(
        self, request: Request, tid: str | None = None
    ) -> tuple[WebSession, FormData] | Response:
        """The session and form of a POST that carries the session cookie and its CSRF token."""
        session = self.gate.session(request.cookies.get(COOKIE))
        if session is None:
            return self.refused(NO_SESSION, None)
        if not same_origin(request):
            return self.forged(request, session, tid)
        form = await request.form()
        if not csrf_ok(session, form.get(CSRF_FIELD)):
            return self.forged(request, session, tid)
        if tid is not None and not TASK_ID.match(tid):
            return self.refused(f"error: {tid!r} is not a task id (TASK_<QUEUE>_<NNNN>)", session, status=404)
        return session, form


_WHERE = {
    "human_review": "waiting for a human: `aios review approve` or `aios review reject --feedback ...`",
    "escalation": "escalated to a human: `aios review reject --feedback ...` to retry, or approve",
    "builder": "waiting for the builder: commit the revision on its branch, then `aios review submit`",
}


def describe(result: Any) -> str:
    """A ``RunStatus`` in the CLI's words (``aios review status``'s first line, and its note)."""
    where = _WHERE.get(result.waiting_for) or ("finished" if result.merged else "stopped")
    line = f"{result.task}: {result.status}, round {result.round}, verdict {result.verdict}; {where}"
    if result.merged:
        line += f"; merged as {result.merged[:12]}"
    return line + (f"\n{result.note}" if result.note else "")


def same_origin(request: Request) -> bool:
    """A browser's POST names the page it came from in ``Origin``; it must be this server."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def ping(request: Request) -> Response:
    """A trivial route: the floor the benchmark compares the pages with."""
    return PlainTextResponse("ok")


def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return PlainTextResponse("not found", status_code=404)
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name])


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response (a plain ASGI middleware: no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create_app(root: Path, *, gate: Gate, sandbox: bool = True) -> Starlette:
    """The ASGI app of the workspace at ``root``; ``gate`` holds its login link and sessions."""
    web = Web(root, gate=gate, sandbox=sandbox)
    app = Starlette(routes=web.routes())
    app.add_middleware(SecurityHeaders)
    return app
