"""A scriptable HTTP server on 127.0.0.1 that the real SDKs talk to in tests and the benchmark.

with StubServer() as stub:
    stub.queue(200, {...})                 # FIFO; when empty, the `always` reply or a 500
    ... point the SDK's base_url at stub.url ...
    stub.requests                          # [Request(method, path, headers, body), ...]
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any, dict[str, str], float]


class Headers(dict[str, str]):
    """Request headers, looked up without regard to case as HTTP means (SDK versions differ in spelling)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class Request:
    """One request the stub received."""

    method: str
    path: str
    headers: Headers
    body: Any


class StubServer:
    """Replies from a queue (then ``always``), records every request. Start/stop or use ``with``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.always: Reply | None = None
        self.record_requests = True
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        # A short poll interval: stop() waits for it, and every test starts and stops a server.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def queue(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> None:
        """Add one reply; ``payload`` is JSON data, or bytes sent as they are."""
        with self._lock:
            self._replies.append((status, payload, dict(headers or {}), delay))

    def next_reply(self, request: Request) -> Reply:
        with self._lock:
            if self.record_requests:
                self.requests.append(request)
            if self._replies:
                return self._replies.pop(0)
        return self.always or (500, {"error": {"message": "no reply queued"}}, {}, 0.0)

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle on, delayed ACKs add ~40 ms per reply.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            n = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            status, payload, headers, delay = stub.next_reply(
                Request(self.command, self.path, Headers(self.headers.items()), body)
            )
            if delay:
                time.sleep(delay)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", headers.get("content-type", "application/json"))
                for k, v in headers.items():
                    if k != "content-type":
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_GET = do_POST

    return Handler
