"""Attacks on the broker's limits: huge responses, bombs, big requests, floods, a dead audit."""

from __future__ import annotations

import gzip
import time

from host.policy.grant import Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from sandbox.spec import Limits
from tests.skills.fakes import MemoryAudit, Seen, call, error_of, http_server, text


def broker(port: int, audit: MemoryAudit, *, calls: int = 32, **kw: object) -> Broker:
    grant = Grant(
        http=(
            HttpGrant(
                host=f"127.0.0.1:{port}",
                methods=frozenset({"GET", "POST"}),
                unsafe_allow_private=True,
                max_response_kb=4,
                max_request_kb=1,
            ),
        ),
        limits=Limits(max_host_calls=calls),
    )
    return Broker(grant, StaticSecrets({}), audit, **kw)  # type: ignore[arg-type]


def test_declared_huge_response_is_refused() -> None:
    audit = MemoryAudit()
    with http_server({"/big": text("x" * 5000)}) as srv:
        reply = call(broker(srv.port, audit), url=f"{srv.base}/big")
    assert error_of(reply) == ("too_large", "response of 5000 bytes is over the 4096 byte cap")
    assert audit.named("broker.denied")[0]["code"] == "too_large"


def test_undeclared_huge_response_is_cut_at_the_cap() -> None:
    with http_server({"/big": text("y" * 100_000, connection="close")}) as srv:
        reply = call(broker(srv.port, MemoryAudit()), url=f"{srv.base}/big")
    assert error_of(reply) == ("too_large", "response is over the 4096 byte cap")


def test_compression_bomb_is_cut_at_the_decoded_cap() -> None:
    bomb = gzip.compress(b"\0" * 3_000_000)  # ~3 KB on the wire, 3 MB decoded

    def serve(_seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "text/plain", "content-encoding": "gzip"}, bomb

    with http_server({"/bomb": serve}) as srv:
        reply = call(broker(srv.port, MemoryAudit()), url=f"{srv.base}/bomb")
    assert error_of(reply) == ("too_large", "response is over the 4096 byte cap")


def test_module_can_only_narrow_the_response_cap() -> None:
    with http_server({"/mid": text("z" * 3000)}) as srv:
        b = broker(srv.port, MemoryAudit())
        narrowed = call(b, url=f"{srv.base}/mid", max_response_bytes=100)
        widened = call(b, url=f"{srv.base}/mid", max_response_bytes=10_000_000)
    assert error_of(narrowed) == ("too_large", "response of 3000 bytes is over the 100 byte cap")
    assert widened["ok"] is True


def test_request_body_over_the_cap_is_not_sent() -> None:
    with http_server({"/up": text("ok")}) as srv:
        reply = call(
            broker(srv.port, MemoryAudit()), method="POST", url=srv.base + "/up", body="a" * 2000
        )
        assert srv.seen == []
    assert error_of(reply) == ("too_large", "request body over the 1 KiB cap")


def test_request_over_the_abi_cap_is_refused_unparsed() -> None:
    raw = broker(1, MemoryAudit())(b"{" + b" " * 70_000 + b"}")
    assert raw == (
        b'{"v":1,"ok":false,"error":{"code":"too_large","message":"request over 65536 bytes"}}'
    )


def test_host_call_flood_is_cut_at_the_budget() -> None:
    audit = MemoryAudit()
    with http_server({"/": text("ok")}) as srv:
        b = broker(srv.port, audit, calls=3)
        replies = [call(b, url=f"{srv.base}/") for _ in range(10)]
        assert len(srv.seen) == 3
    assert [r["ok"] for r in replies] == [True] * 3 + [False] * 7
    assert error_of(replies[3]) == ("budget_exhausted", "this run may make 3 host calls")
    assert b.calls == 10
    assert len(audit.named("broker.denied")) == 7


def test_nothing_is_sent_when_the_audit_cannot_be_written() -> None:
    audit = MemoryAudit(broken=True)
    with http_server({"/": text("ok")}) as srv:
        reply = call(broker(srv.port, audit), url=f"{srv.base}/")
        assert srv.seen == []
    assert error_of(reply) == ("audit_unavailable", "the audit log cannot be written")


def test_slow_upstream_times_out() -> None:
    def slow(_seen: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return 200, {}, b"late"

    with http_server({"/slow": slow}) as srv:
        reply = call(broker(srv.port, MemoryAudit(), timeout_s=0.3), url=f"{srv.base}/slow")
    assert error_of(reply) == ("timeout", "127.0.0.1 did not answer in time")


def test_unreachable_upstream_is_an_upstream_error() -> None:
    with http_server({}) as srv:
        port = srv.port
    reply = call(broker(port, MemoryAudit()), url=f"http://127.0.0.1:{port}/")
    assert error_of(reply) == ("upstream_error", "127.0.0.1: ConnectError")
