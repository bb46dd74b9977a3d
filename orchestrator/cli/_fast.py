"""The plainest read-only invocations, served without importing typer.

Importing typer alone costs about three times ``python -c pass`` (``bench/bench_startup.py``), more
than reading and printing a task. So ``aios task status ID``, ``aios task list [--all]`` and ``aios
review status ID``, each with or without ``--json`` and with no other option than a leading ``--root``
(else the workspace from ``AIOS_ROOT`` or the current folder), are run here, through the same light readers
(``state.peek``, ``workflow.peek``) and views (``_views``) as their typer commands.

Anything else goes to the typer app, which runs the command from the start: another option or
word, ``--help``, no workspace, an escalation that may be due, a read the light readers cannot
answer surely, an error of any kind. Nothing is printed before the answer is complete, so errors,
help and exit codes keep their one home, the typer app and its error boundary.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.state.workspace import Workspace


def serve(argv: list[str]) -> int | None:
    """Run ``argv`` here when it is a plain read-only invocation; its exit code, else None."""
    root, argv = _root_option(argv)
    as_json = bool(argv) and argv[-1] == "--json"
    words = argv[:-1] if as_json else argv
    if any(w.startswith("-") for w in words) and tuple(words) not in _SERVED:
        return None  # an option: the typer app parses it
    try:
        shown = _answer(words, root)
        if shown is None:
            return None
        view, data = shown
        view(data, as_json)
    except KeyboardInterrupt:
        return 130  # as the error boundary
    except BrokenPipeError:
        from orchestrator.cli._print import OUTPUT_CLOSED, output_closed

        return OUTPUT_CLOSED if output_closed() else None
    except Exception:
        return None  # the typer app runs it again and reports what went wrong, as it always does
    return 0


def _root_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """A leading ``--root PATH`` (or ``--root=PATH``), and the words after it."""
    if len(argv) > 1 and argv[0] == "--root":
        return argv[1], argv[2:]
    if argv and argv[0].startswith("--root="):
        return argv[0].removeprefix("--root="), argv[1:]
    return None, argv


def _answer(words: list[str], root: str | None) -> tuple[Callable[[Any, bool], None], Any] | None:
    """The view and the data to show for ``words``; None when the typer app must run them."""
    served = _SERVED.get(tuple(words)) or _SERVED.get(tuple(words[:2]))
    if served is None or len(words) != served[0]:
        return None
    _, read, view = served
    ws = _workspace(root)
    data = None if ws is None else read(ws, words[-1])
    if data is None:
        return None
    from orchestrator.cli import _views

    return getattr(_views, view), data


def _workspace(root: str | None) -> Workspace | None:
    """The workspace the typer app would find (``--root``, ``AIOS_ROOT``, else walking up), when
    nothing is due."""
    from orchestrator.errors import AiosError
    from orchestrator.state import peek
    from orchestrator.state.workspace import Workspace

    if root is None:
        root = os.environ.get("AIOS_ROOT")
    if root == "":
        return None  # how typer reads an empty variable is its business
    try:
        ws = Workspace.find(Path(root) if root else None, explicit=root is not None)
    except AiosError:
        return None
    return None if peek.may_be_due(ws) else ws


def _task(ws: Workspace, tid: str) -> Any:
    from orchestrator.state import peek

    return peek.task(ws, tid)


def _live(ws: Workspace, _: str) -> Any:
    from orchestrator.state import peek

    return peek.live(ws)


def _everything(ws: Workspace, _: str) -> Any:
    from orchestrator.state import peek

    return peek.everything(ws)


def _run(ws: Workspace, tid: str) -> Any:
    from orchestrator.state import peek as state_peek
    from orchestrator.workflow import peek

    # Without the task in the scan cache, the full path reads it (pydantic): the typer app's turn.
    return peek.status(ws, tid) if state_peek.task(ws, tid) is not None else None


#: The served words: how many words the invocation has, what reads its data, the view printing it.
_SERVED: dict[tuple[str, ...], tuple[int, Callable[[Workspace, str], Any], str]] = {
    ("task", "status"): (3, _task, "show_task"),
    ("task", "list"): (2, _live, "show_listing"),
    ("task", "list", "--all"): (3, _everything, "show_listing"),
    ("review", "status"): (3, _run, "show_run"),
}
