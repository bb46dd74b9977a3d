"""Where a workspace's review graph runs and keeps its checkpoints, chosen by ``state.backends``.

- embedded (the default): in this process, checkpoints in ``state/checkpoints.sqlite``, thread id
  = task id (the file belongs to one workspace);
- ``AIOS_CHECKPOINT_URL`` / ``backends.checkpoints``: in this process, checkpoints in PostgreSQL
  (``PostgresSaver``), thread id ``<workspace id>:<task id>`` so workspaces sharing a database
  never collide; a checkpoint one process wrote, another resumes;
- ``AIOS_LANGGRAPH_URL`` / ``backends.langgraph``: on LangGraph Server (``served.py``), driven
  through ``langgraph_sdk``'s sync client (``RemoteGraph``), thread id a UUID5 of the workspace
  id and task id (the server wants UUIDs; two workspaces on one server never collide).

Each engine yields an object with the compiled graph's ``get_state``, ``invoke`` and
``update_state``, so ``runs`` decides everything (authority, gates, the audit) the same way and
only the transport differs. psycopg and langgraph_sdk are imported only when configured.
"""

from __future__ import annotations

import ast
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from orchestrator import errors
from orchestrator.errors import AiosError, StateError
from orchestrator.redact import redact
from orchestrator.state import backends
from orchestrator.state.workspace import Workspace

#: The graph's name in ``langgraph.json`` (the server's assistant id).
GRAPH_ID = "review"
#: UUID5 namespace of server thread ids: uuid5(NAMESPACE, "<workspace id>:<task id>").
NAMESPACE = uuid.UUID("5b0f3d8e-2a4c-4d6e-9f1a-a105e7a9c018")

_set_up: set[str] = set()
_set_up_lock = threading.Lock()


def thread_id(ws: Workspace, tid: str) -> str:
    """The task's thread id in the workspace's checkpoint store or server."""
    if backends.langgraph_url(ws):
        return str(uuid.uuid5(NAMESPACE, f"{backends.workspace_id(ws)}:{tid}"))
    if backends.checkpoint_url(ws):
        return f"{backends.workspace_id(ws)}:{tid}"
    return tid


def config(ws: Workspace, tid: str) -> dict[str, Any]:
    """The ``RunnableConfig`` naming the task's thread."""
    return {"configurable": {"thread_id": thread_id(ws, tid)}}


def is_remote(graph: Any) -> bool:
    """Whether ``graph`` runs on a server (its nodes run there: this process's callables do not)."""
    return isinstance(graph, _ServedGraph) if _ServedGraph is not None else False


# ---- PostgreSQL checkpoints ----


@contextmanager
def postgres_graph(ws: Workspace, url: str) -> Iterator[Any]:
    """The graph checkpointing to PostgreSQL at ``url`` (tables made on first use in a process).

    Raises:
        StateError: the database cannot be reached or used; names the setting, never a password.
    """
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    from orchestrator.workflow.graph import build_graph

    try:
        conn = psycopg.Connection.connect(
            url, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=10
        )
    except psycopg.Error as exc:
        raise _unreachable(ws, url, exc) from None
    with conn:
        saver = PostgresSaver(conn)
        _setup_once(ws, url, saver, conn)
        yield build_graph(saver)


def _setup_once(ws: Workspace, url: str, saver: Any, conn: Any) -> None:
    """``setup()`` creates or migrates the tables: once per process and database, not per command,
    and one process at a time: workers starting together on a new database would each run
    langgraph's migrations and collide on its table of them (a duplicate key)."""
    import psycopg

    with _set_up_lock:
        if url in _set_up:
            return
        try:
            _take_setup_lock(ws, url, conn)
            try:
                saver.setup()
            finally:
                conn.execute(f"SELECT pg_advisory_unlock({_SETUP_LOCK})")
        except psycopg.Error as exc:
            raise _unreachable(ws, url, exc) from None
        _set_up.add(url)


#: The advisory lock held while one process sets up the checkpoint tables.
_SETUP_LOCK = "hashtext('aios checkpoints')"


def _take_setup_lock(ws: Workspace, url: str, conn: Any, *, wait_s: float = 60) -> None:
    """The session's lock on setting up the checkpoint tables, asked for again and again rather
    than waited for: a session waiting inside a statement would hold up the migration's
    ``CREATE INDEX CONCURRENTLY`` in the session that has the lock, a deadlock."""
    deadline = time.monotonic() + wait_s
    while not conn.execute(f"SELECT pg_try_advisory_lock({_SETUP_LOCK}) AS got").fetchone()["got"]:
        if time.monotonic() > deadline:
            raise StateError(
                f"another process has been setting up the checkpoint tables in {_shown(url)} for "
                f"{wait_s:.0f} s ({_setting(ws, 'AIOS_CHECKPOINT_URL', 'backends.checkpoints')})",
                fix="check that process (pg_stat_activity), then run the command again",
            )
        time.sleep(0.05)


def _unreachable(ws: Workspace, url: str, exc: Exception) -> StateError:
    where = _setting(ws, "AIOS_CHECKPOINT_URL", "backends.checkpoints")
    shown = _shown(url)
    reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return StateError(
        f"cannot use the checkpoint database {shown} ({where}): {reason}",
        fix=f"start PostgreSQL at {shown} or correct {where}; unset it to keep checkpoints in "
        f"{ws.rel(ws.checkpoints_db)}",
    )


def _setting(ws: Workspace, variable: str, key: str) -> str:
    """Which setting named the server: the environment variable, else the project file's key."""
    return variable if os.environ.get(variable) else f"{key} in {ws.rel(ws.project_file)}"


def _shown(url: str) -> str:
    """``user@host:port/database`` of a URL: never a password (the URL holds none, but be sure)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{user}{parts.hostname or 'localhost'}{port}{parts.path}"


# ---- LangGraph Server ----


@contextmanager
def served_graph(ws: Workspace, url: str) -> Iterator[Any]:
    """The workspace's graph on the LangGraph Server at ``url``, with the compiled graph's methods."""
    global _ServedGraph
    if _ServedGraph is None:
        _ServedGraph = _served_class()
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=url)
    try:
        yield _ServedGraph(GRAPH_ID, sync_client=client, ws=ws, url=url)
    finally:
        client.close()


_ServedGraph: Any = None
"""``RemoteGraph`` with our errors, defined on first use so langgraph_sdk loads only with a server."""


def _served_class() -> Any:
    import httpx
    from langgraph.pregel.remote import RemoteException, RemoteGraph
    from langgraph.types import StateSnapshot

    class ServedGraph(RemoteGraph):  # type: ignore[misc]
        """``RemoteGraph`` whose failures are ``AiosError``s: a thread the server has not seen yet
        reads as an empty one, an unreachable server names its setting, a node's error comes back."""

        def __init__(self, graph_id: str, *, sync_client: Any, ws: Workspace, url: str) -> None:
            super().__init__(graph_id, sync_client=sync_client)
            self.ws, self.url = ws, url

        def get_state(self, config: Any, **kwargs: Any) -> Any:
            try:
                return super().get_state(config, **kwargs)
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code == 404:  # no run yet: as the embedded engine's empty thread
                    return StateSnapshot({}, (), config, None, None, None, (), ())
                raise self._failed(exc) from None
            except httpx.TransportError as exc:
                raise self._failed(exc) from None

        def invoke(self, start: Any, config: Any, **kwargs: Any) -> Any:
            try:
                return super().invoke(start, config, **kwargs)
            except RemoteException as exc:
                # The run's error event hides the message; the failed task in the thread keeps it.
                data = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                failed = [t.error for t in self.get_state(config).tasks if t.error is not None]
                task = (kwargs.get("context") or {}).get("task_id", "the task")
                raise node_error(
                    str(data.get("error") or ""), str(failed[0]) if failed else "", task
                ) from None
            except httpx.HTTPError as exc:
                raise self._failed(exc) from None

        def update_state(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().update_state(*args, **kwargs)
            except httpx.HTTPError as exc:
                raise self._failed(exc) from None

        def _failed(self, exc: Exception) -> StateError:
            where = _setting(self.ws, "AIOS_LANGGRAPH_URL", "backends.langgraph")
            return StateError(
                f"the LangGraph Server at {self.url} ({where}) failed: {redact(str(exc))}",
                fix=f"start it (`langgraph dev --config langgraph.json`) or correct {where}; unset it to "
                "run reviews in this process",
            )

    return ServedGraph


def node_error(name: str, shown: str, task: str) -> AiosError:
    """The error a node raised on the server: ``shown`` is how the server keeps it (``Name('message')``).

    One of ``orchestrator.errors``' classes comes back as itself; any other as an ``AiosError``
    naming it. The message is masked; its fix (not kept by the server) says where to look.
    """
    found = re.fullmatch(r"(\w+)\((.*)\)", shown.strip(), flags=re.DOTALL)
    name = name or (found.group(1) if found else "")
    message = _literal(found.group(2)) if found else shown
    message = redact(message or "the server did not say why")
    fix = f"`aios review status {task}` shows where the run stopped; the server's log has the details"
    kind = getattr(errors, name, None)
    if isinstance(kind, type) and issubclass(kind, AiosError):
        try:
            return kind(message, fix=fix)
        except TypeError:  # a class with other required arguments
            pass
    return AiosError(f"{name or 'an error'} on the LangGraph Server: {message}", fix=fix)


def _literal(text: str) -> str:
    """The message inside an exception's repr (``'...'``); the text itself when it is not one literal."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text
