"""From a plain-data ``RunSpec`` to the ``RunContext`` the nodes use, once per process per spec.

The caller of a run (``runs.run`` and ``runs.answer``) makes the spec with ``spec_for``: it has
opened the agents' sessions and begun the run guard, so the spec carries the sessions' ids and
where the guard starts. In-process, ``running`` registers the context the caller wired (its
progress callback, its guard object) under the spec; the nodes' ``resolve`` finds it there. A
process that did not make the spec (LangGraph Server) builds the context from it on first use
and keeps a few, so the parallel checks of one invocation share one context.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.errors import ConfigError
from orchestrator.governance.guard import RunGuard
from orchestrator.state import sessions as session_store
from orchestrator.state import tasks
from orchestrator.state.sessions import Session
from orchestrator.state.taskcard import TaskCard, load
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.context import RUN_ACTORS, RunContext, RunSpec
from orchestrator.workflow.options import RunOptions

#: How many contexts built from specs a process keeps (each invocation has its own spec).
KEPT = 32

_lock = threading.Lock()
_live: dict[str, RunContext] = {}
"""Contexts the caller wired in this process, while their invocation runs (``running``)."""
_built: OrderedDict[str, RunContext] = OrderedDict()
"""Contexts built from specs that came from elsewhere, least recently used first."""


def spec_for(
    ws: Workspace, tid: str, options: RunOptions, *, sessions: dict[str, Session], guard: RunGuard
) -> RunSpec:
    """The plain data one invocation of the graph runs with.

    Raises:
        ConfigError: ``options.base_url`` holds credentials (they would be stored with the run).
    """
    return RunSpec(
        root=str(ws.root.resolve()),
        task_id=tid,
        builder_mode=options.builder,
        reviewer_mode=options.reviewer,
        model=options.model,
        base_url=_without_credentials(options.base_url),
        record=str(options.record) if options.record else None,
        sandbox=options.sandbox,
        sessions={actor: s.id for actor, s in sessions.items()},
        guard_seq=guard.last_seq,
        resume=guard.resume,
        invocation=uuid.uuid4().hex,
    )


def _without_credentials(url: str | None) -> str | None:
    if url and (urlsplit(url).username or urlsplit(url).password):
        raise ConfigError(
            "the model server's URL holds credentials, which the run's context would store",
            field="--base-url",
            fix="drop the user and password from the URL; give the key in the provider's environment",
        )
    return url


@contextmanager
def running(spec: RunSpec, ctx: RunContext) -> Iterator[RunSpec]:
    """Let this process's nodes use ``ctx`` (wired by the caller) for ``spec`` while the block runs."""
    key = _key(spec)
    with _lock:
        _live[key] = ctx
    try:
        yield spec
    finally:
        with _lock:
            _live.pop(key, None)


def resolve(spec: RunSpec) -> RunContext:
    """The ``RunContext`` for ``spec``: the caller's in-process, else built here once and kept."""
    key = _key(spec)
    with _lock:  # held while building: the parallel checks of one invocation wait and share it
        found = _live.get(key) or _built.get(key)
        if found is None:
            found = _built[key] = build(spec)
            while len(_built) > KEPT:
                _built.popitem(last=False)
        elif key in _built:
            _built.move_to_end(key)
        return found


def build(spec: RunSpec, *, progress: Callable[[str], None] | None = None) -> RunContext:
    """A ``RunContext`` from plain data alone, as a process that did not start the run makes it."""
    from orchestrator import redact
    from orchestrator.workflow.wiring import make_context

    ws = Workspace(Path(spec["root"]))
    tid = spec["task_id"]
    redact.load_hashes(ws.secret_hashes_file(tid))  # mask what an earlier review of the task found
    guard = RunGuard(ws, tid, own=RUN_ACTORS, last_seq=spec["guard_seq"], resume=spec["resume"])
    return make_context(
        ws, _card(ws, tid), _options(spec), progress=progress, sessions=_sessions(ws, spec), guard=guard
    )


def _card(ws: Workspace, tid: str) -> TaskCard:
    return load(ws.root / tasks.get(ws, tid).card)


def _options(spec: RunSpec) -> RunOptions:
    return RunOptions.model_validate(
        {
            "builder_mode": spec["builder_mode"],
            "reviewer_mode": spec["reviewer_mode"],
            "model": spec["model"],
            "base_url": spec["base_url"],
            "record": spec["record"],
            "sandbox": spec["sandbox"],
        }
    )


def _sessions(ws: Workspace, spec: RunSpec) -> dict[str, Session]:
    """The caller's sessions, read by id; one that is gone acts as no session (authority refuses it)."""
    held = session_store.load(ws)
    found = {actor: held.by_id(sid) for actor, sid in spec["sessions"].items()}
    return {actor: s for actor, s in found.items() if s is not None}


def _key(spec: RunSpec) -> str:
    return json.dumps(spec, sort_keys=True)
