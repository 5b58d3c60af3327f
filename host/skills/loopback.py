"""A canned-answer HTTP server on 127.0.0.1, for example cases that need an upstream.

Only ``airlock skill test`` uses it: it serves each case's ``serve`` routes on an ephemeral
loopback port for the duration of the case, so HTTP skills are tested through the real broker
without touching the network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from host.skills.examples import Route

MAX_BODY = 1024 * 1024  # a request body a test upstream will read


@contextmanager
def serve(routes: Sequence[Route]) -> Iterator[str]:
    """Serve ``routes``; yields the base URL (``http://127.0.0.1:PORT``); stops on exit."""
    table = {r.path: r for r in routes}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
            self.rfile.read(length)
            route = table.get(self.path.split("?", 1)[0])
            if route is None:
                self._send(404, "text/plain", b"no such route", {})
                return
            for name, value in route.require_headers.items():
                if self.headers.get(name) != value:
                    self._send(401, "text/plain", f"missing or wrong {name}".encode(), {})
                    return
            self._send(route.status, route.content_type, route.body.encode(), route.headers)

        def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass  # the case report says what matters

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
