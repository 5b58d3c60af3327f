"""The broker performs granted HTTP for a module and answers in the wire format."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from host.policy.grant import Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from tests.skills.fakes import MemoryAudit, Seen, call, error_of, http_server, text

KEY = "sk-test-0123456789"


def local_grant(port: int, **kw: object) -> Grant:
    http = HttpGrant(
        host=f"127.0.0.1:{port}",
        methods=frozenset({"GET", "POST"}),
        unsafe_allow_private=True,
        **kw,  # type: ignore[arg-type]
    )
    return Grant(http=(http,), secrets=("SEARCH_API_KEY",))


def make(grant: Grant, audit: MemoryAudit) -> Broker:
    return Broker(grant, StaticSecrets({"SEARCH_API_KEY": KEY}), audit, request_id="req-1")


def test_get_returns_status_headers_and_text_body() -> None:
    audit = MemoryAudit()
    with http_server({"/hello": text("héllo", **{"x-extra": "1"})}) as srv:
        reply = call(make(local_grant(srv.port), audit), url=f"{srv.base}/hello?q=1")
    assert reply["ok"] is True
    result = reply["result"]
    assert isinstance(result, dict)
    assert result["status"] == 200
    assert result["body"] == "héllo"
    assert result["url"] == f"{srv.base}/hello?q=1"
    assert result["redirects"] == 0
    assert isinstance(result["headers"], dict)
    assert result["headers"]["x-extra"] == "1"


def test_post_sends_body_and_secret_header_only_on_the_wire() -> None:
    audit = MemoryAudit()
    with http_server({"/search": text("{}")}) as srv:
        reply = call(
            make(local_grant(srv.port), audit),
            method="POST",
            url=f"{srv.base}/search",
            headers={"Content-Type": "application/json"},
            secret_headers={"Authorization": "Bearer ${secret:SEARCH_API_KEY}"},
            body='{"q":"wasm"}',
        )
        seen = srv.seen[0]
    assert reply["ok"] is True
    assert seen.method == "POST"
    assert seen.body == b'{"q":"wasm"}'
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["host"] == f"127.0.0.1:{srv.port}"
    assert KEY not in audit.dump()
    request_event = audit.named("broker.http.request")[0]
    assert request_event["secrets"] == ["SEARCH_API_KEY"]
    assert request_event["method"] == "POST"
    assert request_event["path"] == "/search"
    assert audit.named("broker.http.response")[0]["status"] == 200
    assert all(rid == "req-1" for _, rid, _ in audit.events)


def test_base64_body_both_ways() -> None:
    blob = bytes(range(256))

    def echo(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "application/octet-stream"}, seen.body

    with http_server({"/echo": echo}) as srv:
        reply = call(
            make(local_grant(srv.port), MemoryAudit()),
            method="POST",
            url=f"{srv.base}/echo",
            body_b64=base64.b64encode(blob).decode(),
            response_body="base64",
        )
    assert isinstance(reply["result"], dict)
    assert base64.b64decode(str(reply["result"]["body_b64"])) == blob


def test_redirect_within_grant_is_followed_and_counted() -> None:
    with http_server({"/old": text("", 302, location="/new"), "/new": text("moved here")}) as srv:
        reply = call(make(local_grant(srv.port), MemoryAudit()), url=f"{srv.base}/old")
    assert isinstance(reply["result"], dict)
    assert reply["result"]["body"] == "moved here"
    assert reply["result"]["redirects"] == 1
    assert reply["result"]["url"] == f"{srv.base}/new"


def test_redirect_not_followed_when_asked() -> None:
    with http_server({"/old": text("", 301, location="/new")}) as srv:
        reply = call(
            make(local_grant(srv.port), MemoryAudit()),
            url=f"{srv.base}/old",
            follow_redirects=False,
        )
    assert isinstance(reply["result"], dict)
    assert reply["result"]["status"] == 301
    assert isinstance(reply["result"]["headers"], dict)
    assert reply["result"]["headers"]["location"] == "/new"


def test_gzip_body_is_decoded() -> None:
    packed = gzip.compress(b"squeezed " * 10)

    def zipped(_seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "text/plain", "content-encoding": "gzip"}, packed

    with http_server({"/z": zipped}) as srv:
        reply = call(make(local_grant(srv.port), MemoryAudit()), url=f"{srv.base}/z")
    assert isinstance(reply["result"], dict)
    assert reply["result"]["body"] == "squeezed " * 10


@pytest.mark.parametrize(
    ("request_doc", "code", "message"),
    [
        ({"v": 2, "op": "http.request"}, "bad_request", "wire version 2 is not supported; use 1"),
        ({"v": 1, "op": "fs.read"}, "unknown_op", "unknown op 'fs.read'; known: http.request"),
        ({"v": 1, "op": "http.request"}, "bad_request", "url: Field required"),
        (
            {"v": 1, "op": "http.request", "url": "http://x", "cookie": "1"},
            "bad_request",
            "cookie: Extra inputs are not permitted",
        ),
        (
            {"v": 1, "op": "http.request", "url": "file:///etc/passwd"},
            "bad_request",
            "scheme 'file' is not allowed; use http or https",
        ),
        (
            {"v": 1, "op": "http.request", "url": "http://u:p@127.0.0.1/"},
            "bad_request",
            "credentials in the URL are not allowed; use secret_headers",
        ),
        (
            {"v": 1, "op": "http.request", "url": "http://a/", "headers": {"Host": "b"}},
            "bad_request",
            "header 'Host' is set by the broker, not the module",
        ),
        (
            {"v": 1, "op": "http.request", "url": "http://a/", "headers": {"X": "a\r\nB: c"}},
            "bad_request",
            "header values must not contain CR, LF or NUL",
        ),
    ],
)
def test_malformed_requests_get_precise_errors(
    request_doc: dict[str, object], code: str, message: str
) -> None:
    audit = MemoryAudit()
    broker = make(local_grant(1), audit)
    reply = json.loads(broker(json.dumps(request_doc).encode()))
    assert error_of(reply) == (code, message)
    assert audit.named("broker.denied") == [{"code": code, "message": message}]


def test_not_json_is_a_bad_request() -> None:
    reply = json.loads(make(local_grant(1), MemoryAudit())(b"\xff{"))
    assert error_of(reply) == ("bad_request", "request is not UTF-8 JSON")
