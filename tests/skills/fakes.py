"""Small real implementations of interfaces the skills code depends on, and a loopback HTTP
server that the broker tests and example cases talk to."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from host.audit.sink import JsonValue
from host.errors import AuditError


@dataclass
class MemoryAudit:
    """An AuditSink that keeps events in a list; ``broken`` makes every write fail."""

    events: list[tuple[str, str | None, dict[str, JsonValue]]] = field(default_factory=list)
    broken: bool = False

    def record(self, event: str, *, request_id: str | None, data: dict[str, JsonValue]) -> str:
        if self.broken:
            raise AuditError("audit log is read-only")
        self.events.append((event, request_id, data))
        blob = json.dumps([event, request_id, data], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def named(self, event: str) -> list[dict[str, JsonValue]]:
        return [data for name, _, data in self.events if name == event]

    def dump(self) -> str:
        return json.dumps(self.events)


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# A route answers (status, headers, body) for a request.
Handler = Callable[[Seen], tuple[int, dict[str, str], bytes]]


@dataclass
class Server:
    base: str
    port: int
    routes: dict[str, Handler]
    seen: list[Seen]


@contextmanager
def http_server(routes: dict[str, Handler] | None = None) -> Iterator[Server]:
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port; stops on exit."""
    state = Server(base="", port=0, routes=dict(routes or {}), seen=[])

    class Handle(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.seen.append(seen)
            handler = state.routes.get(self.path.split("?", 1)[0])
            if handler is None:
                status, headers, body = 404, {"content-type": "text/plain"}, b"no such route"
            else:
                status, headers, body = handler(seen)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            names = {k.lower() for k in headers}
            if "connection" in names:  # "Connection: close": the body ends when the socket does
                self.close_connection = True
            elif "content-length" not in names:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.base = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def text(body: str, status: int = 200, **headers: str) -> Handler:
    """A route answering ``body`` as text."""
    return lambda _seen: (status, {"content-type": "text/plain", **headers}, body.encode())


def call(broker: Callable[[bytes], bytes], **request: object) -> dict[str, JsonValue]:
    """Send one http.request through ``broker`` the way a module would; the parsed reply."""
    doc = {"v": 1, "op": "http.request", **request}
    reply: dict[str, JsonValue] = json.loads(broker(json.dumps(doc).encode()))
    return reply


def error_of(reply: dict[str, JsonValue]) -> tuple[JsonValue, JsonValue]:
    """(code, message) of an error reply; fails the test on a success reply."""
    assert reply["ok"] is False, reply
    error = reply["error"]
    assert isinstance(error, dict)
    return error["code"], error["message"]
