"""Attacks on the broker's grant checks: hosts, ports, methods, addresses, redirects.

Each refusal must be the precise wire error, must be audited, and must send nothing upstream.
"""

from __future__ import annotations

from collections.abc import Sequence

from host.policy.grant import Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from host.skills.broker.allow import Target, matching_grant
from tests.skills.fakes import MemoryAudit, call, error_of, http_server, text

KEY = "sk-test-0123456789"


def broker(*grants: HttpGrant, audit: MemoryAudit, resolve: dict[str, str] | None = None) -> Broker:
    table = resolve or {}

    def resolver(host: str, port: int) -> Sequence[str]:
        return [table.get(host, host)]

    return Broker(
        Grant(http=grants, secrets=("SEARCH_API_KEY",)),
        StaticSecrets({"SEARCH_API_KEY": KEY}),
        audit,
        request_id="req-7",
        resolver=resolver,
    )


def local(port: int, *methods: str) -> HttpGrant:
    return HttpGrant(
        host=f"127.0.0.1:{port}",
        methods=frozenset(methods or ("GET",)),  # type: ignore[arg-type]
        unsafe_allow_private=True,
    )


def test_host_outside_grant_is_refused_and_audited() -> None:
    audit = MemoryAudit()
    with http_server({"/": text("secret data")}) as srv:
        b = broker(HttpGrant(host="api.example.org"), audit=audit)
        reply = call(b, url=f"{srv.base}/")
        assert srv.seen == []
    assert error_of(reply) == (
        "not_granted",
        f"http://127.0.0.1:{srv.port} is not granted to this run",
    )
    assert audit.named("broker.denied")[0]["code"] == "not_granted"
    assert audit.named("broker.http.request") == []


def test_method_outside_grant_is_refused() -> None:
    audit = MemoryAudit()
    with http_server({"/": text("ok")}) as srv:
        reply = call(broker(local(srv.port, "GET"), audit=audit), method="DELETE", url=srv.base)
        assert srv.seen == []
    assert error_of(reply) == (
        "not_granted",
        f"DELETE to http://127.0.0.1:{srv.port} is not granted to this run",
    )


def test_other_port_of_a_granted_host_is_refused() -> None:
    audit = MemoryAudit()
    reply = call(
        broker(HttpGrant(host="api.example.org"), audit=audit), url="http://api.example.org:8080/"
    )
    assert error_of(reply) == (
        "not_granted",
        "http://api.example.org:8080 is not granted to this run",
    )


def test_wildcard_matches_subdomains_only() -> None:
    grants = (HttpGrant(host="*.example.org"),)
    assert matching_grant(Target("https", "a.b.example.org", 443), "GET", grants) is not None
    assert matching_grant(Target("https", "example.org", 443), "GET", grants) is None
    assert matching_grant(Target("https", "evilexample.org", 443), "GET", grants) is None
    assert matching_grant(Target("https", "example.org.evil.net", 443), "GET", grants) is None


def test_loopback_is_refused_without_unsafe_allow_private() -> None:
    audit = MemoryAudit()
    with http_server({"/": text("admin panel")}) as srv:
        b = broker(HttpGrant(host=f"127.0.0.1:{srv.port}"), audit=audit)
        reply = call(b, url=f"{srv.base}/")
        assert srv.seen == []
    assert error_of(reply) == (
        "forbidden_address",
        "127.0.0.1 resolves to 127.0.0.1, a loopback, private, link-local or multicast address",
    )
    assert audit.named("broker.denied")[0]["code"] == "forbidden_address"


def test_granted_name_resolving_to_private_or_metadata_address_is_refused() -> None:
    audit = MemoryAudit()
    b = broker(
        HttpGrant(host="intranet.example.org"),
        HttpGrant(host="meta.example.org"),
        audit=audit,
        resolve={"intranet.example.org": "10.0.0.5", "meta.example.org": "169.254.169.254"},
    )
    assert error_of(call(b, url="https://intranet.example.org/"))[0] == "forbidden_address"
    code, message = error_of(call(b, url="http://meta.example.org/latest/meta-data/"))
    assert code == "forbidden_address"
    assert "169.254.169.254" in str(message)


def test_connection_goes_to_the_checked_address_not_a_fresh_lookup() -> None:
    # "api.example.test" does not exist in DNS: the request can only arrive if the broker
    # connected to the address its resolver returned, with the name in Host.
    audit = MemoryAudit()
    with http_server({"/v1": text("pinned")}) as srv:
        grant = HttpGrant(host=f"api.example.test:{srv.port}", unsafe_allow_private=True)
        b = broker(grant, audit=audit, resolve={"api.example.test": "127.0.0.1"})
        reply = call(b, url=f"http://api.example.test:{srv.port}/v1")
        assert srv.seen[0].headers["host"] == f"api.example.test:{srv.port}"
    assert reply["ok"] is True
    assert audit.named("broker.http.request")[0]["address"] == "127.0.0.1"


def test_redirect_to_a_host_outside_the_grant_is_refused() -> None:
    audit = MemoryAudit()
    with http_server({"/go": text("", 302, location="http://169.254.169.254/latest/")}) as srv:
        reply = call(broker(local(srv.port), audit=audit), url=f"{srv.base}/go")
    assert error_of(reply) == (
        "not_granted",
        "http://169.254.169.254:80 is not granted to this run",
    )
    assert [e["hop"] for e in audit.named("broker.http.request")] == [0]


def test_redirect_to_another_port_on_loopback_is_refused() -> None:
    audit = MemoryAudit()
    with (
        http_server({"/": text("internal")}) as inner,
        http_server({"/go": text("", 307, location=f"{inner.base}/")}) as outer,
    ):
        reply = call(broker(local(outer.port), audit=audit), url=f"{outer.base}/go")
        assert inner.seen == []
    assert error_of(reply)[0] == "not_granted"


def test_redirect_loop_stops_at_the_hop_limit() -> None:
    audit = MemoryAudit()
    with http_server({"/loop": text("", 302, location="/loop")}) as srv:
        reply = call(broker(local(srv.port), audit=audit), url=f"{srv.base}/loop")
        assert len(srv.seen) == 6
    assert error_of(reply) == ("too_many_redirects", "more than 5 redirects")


def test_secret_headers_are_dropped_on_a_cross_origin_redirect() -> None:
    audit = MemoryAudit()
    with (
        http_server({"/land": text("landed")}) as other,
        http_server({"/go": text("", 302, location=f"{other.base}/land")}) as first,
    ):
        b = broker(local(first.port), local(other.port), audit=audit)
        reply = call(
            b,
            url=f"{first.base}/go",
            secret_headers={"Authorization": "Bearer ${secret:SEARCH_API_KEY}"},
        )
        assert first.seen[0].headers["authorization"] == f"Bearer {KEY}"
        assert "authorization" not in other.seen[0].headers
    assert isinstance(reply["result"], dict)
    assert reply["result"]["body"] == "landed"
