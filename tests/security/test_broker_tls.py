"""Address pinning must not weaken TLS: the broker connects to the checked address but verifies
the certificate against the name the module asked for, and mixed DNS answers are refused."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

from host.policy.grant import Grant, HttpGrant
from host.skills.broker import Broker, StaticSecrets
from host.skills.broker.allow import Resolver
from tests.skills.fakes import MemoryAudit, call, error_of
from tests.skills.tls import https_server, make_ca_and_cert


def pinned(table: dict[str, list[str]]) -> Resolver:
    def resolver(host: str, port: int) -> Sequence[str]:
        return table[host]

    return resolver


def broker(host: str, port: int, ca: Path, table: dict[str, list[str]]) -> Broker:
    grant = Grant(http=(HttpGrant(host=f"{host}:{port}", unsafe_allow_private=True),))
    context = ssl.create_default_context(cafile=str(ca))
    return Broker(
        grant,
        StaticSecrets({}),
        MemoryAudit(),
        resolver=pinned(table),
        ssl_context=context,
    )


def test_https_to_a_pinned_address_verifies_the_name(tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_cert(tmp_path, "api.example.test")
    with https_server(cert, key, b"over tls") as port:
        b = broker("api.example.test", port, ca, {"api.example.test": ["127.0.0.1"]})
        reply = call(b, url=f"https://api.example.test:{port}/")
    assert reply["ok"] is True
    assert isinstance(reply["result"], dict)
    assert reply["result"]["body"] == "over tls"


def test_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    # The name resolves to a server whose certificate is for someone else: a rebinding or a
    # hijacked DNS answer cannot borrow the connection.
    ca, cert, key = make_ca_and_cert(tmp_path, "other.example.test")
    with https_server(cert, key, b"impostor") as port:
        b = broker("api.example.test", port, ca, {"api.example.test": ["127.0.0.1"]})
        reply = call(b, url=f"https://api.example.test:{port}/")
    assert error_of(reply) == ("upstream_error", "api.example.test: ConnectError")


def test_mixed_public_and_private_answers_are_refused() -> None:
    # A rebinding name that returns a public and a private address: any forbidden address in
    # the answer refuses the call (the broker never tries them in turn).
    grant = Grant(http=(HttpGrant(host="rebind.example.org"),))
    table = {"rebind.example.org": ["93.184.216.34", "127.0.0.1"]}
    b = Broker(grant, StaticSecrets({}), MemoryAudit(), resolver=pinned(table))
    assert error_of(call(b, url="http://rebind.example.org/")) == (
        "forbidden_address",
        "rebind.example.org resolves to 127.0.0.1, a loopback, private, link-local or "
        "multicast address",
    )
