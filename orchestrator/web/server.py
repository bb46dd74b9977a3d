"""uvicorn, serving the web shell; it tells its caller when the socket listens.

The caller (``aios serve``) prints the login link from ``on_ready``: only once the server
listens, so whoever reads the link can open it at once. The access log masks the login token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.redact import RedactingFilter
from orchestrator.web.app import create_app
from orchestrator.web.auth import Gate

LOCAL = "127.0.0.1"
_TOKEN = re.compile(r"([?&]token=)[^&\s\"]*")


class MaskToken(logging.Filter):
    """Masks ``token=...`` in a log line (uvicorn's access log prints every request's query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        record.msg = _TOKEN.sub(r"\1***", str(record.msg))
        return True


def serve(
    root: Path,
    *,
    gate: Gate,
    host: str = LOCAL,
    port: int = 8377,
    sandbox: bool = True,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until the process is stopped; ``on_ready(port)`` runs once the socket listens."""
    import uvicorn

    config = uvicorn.Config(
        create_app(root, gate=gate, sandbox=sandbox),
        host=host,
        port=port,
        log_level="info",
        lifespan="off",
        server_header=False,
        log_config=_log_config(),
    )
    _filter_logs()  # after Config: it applies uvicorn's logging setup
    _ready_server(config, on_ready).run()


def _ready_server(config: Any, on_ready: Callable[[int], None] | None) -> Any:
    """A uvicorn ``Server`` whose startup ends by calling ``on_ready`` with the bound port."""
    import uvicorn

    class Ready(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_ready is not None:
                on_ready(_bound_port(self, config.port))

    return Ready(config)


def _bound_port(server: Any, asked: int) -> int:
    """The port the server listens on (``--port 0`` lets the system choose one)."""
    for srv in getattr(server, "servers", []):
        for sock in srv.sockets or ():
            return int(sock.getsockname()[1])
    return asked


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the access log on stderr too: stdout carries the login link alone."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


def _filter_logs() -> None:
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.addFilter(MaskToken())
        logger.addFilter(RedactingFilter())
