"""``aios serve``: the board and the human checkpoint as a local web page.

A shell beside the CLI and the MCP server: its routes call the same services (``workflow.runs``,
``state.tasks``, ``review.report``, ``state.queues``, ``state.freeze``), and the governance
functions those services call decide who may act, auditing every refusal.

    auth.py     the one-time login link, the session cookie, the CSRF token (all in memory)
    pages.py    what the board and the task page show, read from the services
    app.py      the Starlette routes, the security headers and the error rendering
    server.py   uvicorn on 127.0.0.1 (or ``--host``), telling its caller when it listens
"""
