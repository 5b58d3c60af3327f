"""Whatever a module sends, the broker answers with a well-formed refusal and never raises.

The grant here allows nothing and the resolver fails the test if it is ever asked: no input may
get as far as the network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from host.policy.grant import Grant
from host.skills.broker import Broker, StaticSecrets
from sandbox.spec import Limits
from tests.skills.fakes import MemoryAudit

FIELDS = [
    "v", "op", "method", "url", "headers", "secret_headers", "body", "body_b64",
    "follow_redirects", "max_response_bytes", "response_body",
]  # fmt: skip
CODES = {"bad_request", "unknown_op", "not_granted", "too_large"}


def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"the broker tried to resolve {host}:{port} for a refused request")


def broker() -> Broker:
    grant = Grant(limits=Limits(max_host_calls=10_000))
    return Broker(grant, StaticSecrets({}), MemoryAudit(), resolver=no_dns)


BROKER = broker()  # one run's broker, serving every example: state must not leak between calls


def check(reply: bytes) -> None:
    doc = json.loads(reply)
    assert doc["v"] == 1
    assert doc["ok"] is False
    assert doc["error"]["code"] in CODES
    assert isinstance(doc["error"]["message"], str)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@given(st.binary(max_size=4096))
def test_random_bytes_get_a_refusal(data: bytes) -> None:
    check(BROKER(data))


@given(
    st.fixed_dictionaries(
        {"v": st.just(1), "op": st.just("http.request")},
        optional={
            name: json_values
            | st.sampled_from(["GET", "http://127.0.0.1/", "http://[::1]:80/x", "ftp://a"])
            for name in FIELDS[2:]
        },
    )
)
def test_random_http_requests_get_a_refusal(doc: dict[str, Any]) -> None:
    check(BROKER(json.dumps(doc).encode()))
