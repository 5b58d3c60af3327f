"""The host-call wire format, version 1 (docs/skill-abi.md is the reference for authors).

A module sends one UTF-8 JSON request through ``airlock.call`` and reads one JSON reply through
``airlock.reply``. Requests are untrusted: they are parsed into strict models here, and anything
off-format gets a ``bad_request`` reply, never an exception in the host.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from host.policy.grant import HttpMethod

WIRE_VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024  # the ABI's cap; the sandbox refuses larger requests with -2
MAX_URL_CHARS = 8192  # longer URLs are refused by most servers anyway
MAX_HEADERS = 32  # a skill needs a handful; caps the work per call
MAX_HEADER_CHARS = 8192  # per header value

ErrorCode = Literal[
    "bad_request",  # not JSON, unknown field, wrong type, bad URL, forbidden header
    "unknown_op",  # an op this host does not implement
    "not_granted",  # host, port, method or secret not in this run's grant
    "forbidden_address",  # the name resolves to a private/loopback/link-local/multicast address
    "too_large",  # request body or response body over its cap
    "too_many_redirects",  # more hops than the broker follows
    "upstream_error",  # DNS failure, connection refused, TLS failure, protocol error
    "timeout",  # the upstream did not answer in time
    "budget_exhausted",  # this run used all its host calls
    "secret_unavailable",  # the grant names a secret the deployer did not provide
    "audit_unavailable",  # the audit log cannot be written, so nothing is sent
]

HeaderMap = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=256)],
        Annotated[StrictStr, Field(max_length=MAX_HEADER_CHARS)],
    ],
    Field(max_length=MAX_HEADERS),
]


class Envelope(BaseModel):
    """The fields every request has; read first to pick the op's model."""

    model_config = ConfigDict(extra="allow")

    v: StrictInt
    op: StrictStr


class HttpRequest(BaseModel):
    """``op = "http.request"``: the broker performs one HTTP exchange for the module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    op: Literal["http.request"]
    method: HttpMethod = "GET"
    url: Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL_CHARS)]
    headers: HeaderMap = Field(default_factory=dict)
    # Header values with ${secret:NAME} placeholders, filled in by the broker; the module never
    # sees the value. Sent only to the origin of ``url``, dropped on a cross-origin redirect.
    secret_headers: HeaderMap = Field(default_factory=dict)
    body: StrictStr | None = None  # UTF-8 text body
    body_b64: StrictStr | None = None  # binary body, standard base64
    follow_redirects: StrictBool = True
    # Narrow the grant's response cap for this call (never widen it).
    max_response_bytes: Annotated[StrictInt, Field(gt=0)] | None = None
    response_body: Literal["text", "base64"] = "text"


def ok_reply(result: dict[str, Any]) -> bytes:
    """A success reply document."""
    return _dump({"v": WIRE_VERSION, "ok": True, "result": result})


def error_reply(code: ErrorCode, message: str) -> bytes:
    """An error reply document; ``message`` is for the skill author and must hold no secret."""
    return _dump({"v": WIRE_VERSION, "ok": False, "error": {"code": code, "message": message}})


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
