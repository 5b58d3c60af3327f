"""The host-call broker: serves a module's ``airlock.call`` requests within its grant.

One :class:`Broker` is built per run from the run's effective grant; the sandbox hands it each
request's bytes and returns its reply bytes to the module. The broker never raises for anything a
module sends: a request outside the grant gets an error reply naming what was refused, the module
decides what to do with it, and the host carries on. Every call is audited before it is sent
(write-ahead); if the audit log cannot be written, nothing is sent.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import functools
import hashlib
import json
import re
import ssl
import time
from typing import Any

import httpx
from pydantic import ValidationError

from host.audit.sink import AuditSink, JsonValue
from host.errors import AuditError, BrokerError
from host.policy.grant import Grant
from host.skills.broker.allow import (
    DEFAULT_PORTS,
    Resolver,
    Target,
    host_granted,
    is_forbidden_address,
    matching_grant,
    normalize_host,
    system_resolver,
)
from host.skills.broker.hop import HopFailure, HopResponse, send
from host.skills.broker.redact import Redactor
from host.skills.broker.secrets import SecretsProvider
from host.skills.broker.wire import (
    MAX_REQUEST_BYTES,
    Envelope,
    ErrorCode,
    HttpRequest,
    error_reply,
    ok_reply,
)

DEFAULT_CALL_TIMEOUT_S = 15.0  # one call, all hops; the run's own timeout bounds it as well
CONNECT_TIMEOUT_S = 5.0  # a host that cannot accept a connection in 5 s is down for us
MAX_REDIRECTS = 5  # browsers allow ~20; an API that needs more than 5 is misconfigured
REDIRECTS = {301, 302, 303, 307, 308}
SECRET_REF = re.compile(r"\$\{secret:([A-Za-z_][A-Za-z0-9_.-]*)\}")
# The broker sets these itself; a module that could set them could smuggle a second request
# or talk to a proxy.
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "expect",
        "proxy-authorization",
        "proxy-connection",
    }
)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """The system's trust store, loaded once per process (tens of ms), shared by every run:
    a context is safe to share between threads and no run can change it."""
    return ssl.create_default_context()


class Refusal(Exception):
    """A call refused before or during its exchange; becomes an error reply."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


class Broker:
    """A :class:`sandbox.spec.HostCallHandler` for one run."""

    def __init__(
        self,
        grant: Grant,
        secrets: SecretsProvider,
        audit: AuditSink,
        *,
        request_id: str | None = None,
        resolver: Resolver = system_resolver,
        timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._grant = grant
        self._secrets = secrets
        self._audit = audit
        self._request_id = request_id
        self._resolver = resolver
        self._timeout_s = min(timeout_s, grant.limits.timeout_s)
        self._ssl = ssl_context  # created on first use: refused calls never need one
        self._calls = 0

    @property
    def calls(self) -> int:
        """How many calls this run made (refused ones included)."""
        return self._calls

    def __call__(self, request: bytes) -> bytes:
        self._calls += 1
        redactor = Redactor({})
        try:
            if self._calls > self._grant.limits.max_host_calls:
                raise Refusal(
                    "budget_exhausted",
                    f"this run may make {self._grant.limits.max_host_calls} host calls",
                )
            req = _parse(request)
            redactor, secret_headers = self._secrets_for(req)
            reply = self._http(req, secret_headers, redactor)
        except Refusal as refusal:
            message = redactor.text(refusal.message)
            # Already refused: nothing was sent, so a failing audit has nothing left to stop.
            with contextlib.suppress(AuditError):
                self._record("broker.denied", {"code": refusal.code, "message": message})
            return error_reply(refusal.code, message)
        except AuditError:
            return error_reply("audit_unavailable", "the audit log cannot be written")
        except Exception as exc:  # a handler must answer, never raise (see the ABI)
            # A bug or an unforeseen library error must not take the supervisor down with it;
            # the type name is enough for the author and holds no request data.
            return error_reply("upstream_error", f"the broker failed: {type(exc).__name__}")
        # Last line of defence: nothing that carries a secret leaves, whatever path built it.
        if redactor.contains_secret(reply):
            return error_reply("upstream_error", "reply withheld: it contained a secret")
        return reply

    # -- one call ------------------------------------------------------------------------------

    def _secrets_for(self, req: HttpRequest) -> tuple[Redactor, dict[str, str]]:
        values: dict[str, str] = {}
        filled: dict[str, str] = {}
        for header, template in req.secret_headers.items():
            names = SECRET_REF.findall(template)
            if not names:
                raise Refusal("bad_request", f"secret_headers.{header} has no ${{secret:NAME}}")
            for name in names:
                if name not in self._grant.secrets:
                    raise Refusal("not_granted", f"secret {name!r} is not granted to this run")
                try:
                    values[name] = self._secrets.get(name)
                except BrokerError:
                    raise Refusal(
                        "secret_unavailable", f"secret {name!r} has no value on this host"
                    ) from None
            filled[header] = SECRET_REF.sub(lambda m: values[m.group(1)], template)
        return Redactor(values), filled

    def _http(self, req: HttpRequest, secret_headers: dict[str, str], redactor: Redactor) -> bytes:
        headers = _check_headers(req.headers, secret_headers)
        body = _body(req)
        method = req.method
        target, path = _target(req.url)
        origin = target.origin
        deadline = time.monotonic() + self._timeout_s
        timeout = httpx.Timeout(self._timeout_s, connect=min(CONNECT_TIMEOUT_S, self._timeout_s))
        if self._ssl is None:
            self._ssl = _default_tls()
        with httpx.Client(
            verify=self._ssl, trust_env=False, follow_redirects=False, timeout=timeout
        ) as client:
            for hop in range(MAX_REDIRECTS + 1):
                send_headers = {**headers, **(secret_headers if target.origin == origin else {})}
                response = self._hop(
                    client, hop, target, method, path, send_headers, body, req, deadline
                )
                location = response.headers.get("location")
                if not (req.follow_redirects and response.status in REDIRECTS and location):
                    return self._reply(req, target, path, hop, response, redactor)
                try:
                    target, path = _target(str(httpx.URL(_url(target, path)).join(location)))
                except Refusal as refusal:
                    raise Refusal(refusal.code, f"redirect refused: {refusal.message}") from None
                if response.status == 303 or (response.status in {301, 302} and method == "POST"):
                    method, body = ("HEAD" if method == "HEAD" else "GET"), None
        raise Refusal("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")

    def _hop(
        self,
        client: httpx.Client,
        hop: int,
        target: Target,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        req: HttpRequest,
        deadline: float,
    ) -> HopResponse:
        where = f"{target.scheme}://{target.host}:{target.port}"
        grant = matching_grant(target, method, self._grant.http)
        if grant is None:
            what = f"{method} to {where}" if host_granted(target, self._grant.http) else where
            raise Refusal("not_granted", f"{what} is not granted to this run")
        if body is not None and len(body) > grant.max_request_kb * 1024:
            raise Refusal("too_large", f"request body over the {grant.max_request_kb} KiB cap")
        cap = grant.max_response_kb * 1024
        if req.max_response_bytes is not None:
            cap = min(cap, req.max_response_bytes)
        address = self._resolve(target, allow_private=grant.unsafe_allow_private)
        self._record(
            "broker.http.request",
            {
                "hop": hop,
                "method": method,
                "scheme": target.scheme,
                "host": target.host,
                "port": target.port,
                "address": address,
                "path": path.split("?", 1)[0],
                "request_bytes": len(body or b""),
                "request_sha256": hashlib.sha256(body or b"").hexdigest(),
                "secrets": list[JsonValue](sorted(self._secret_names(headers))),
            },
        )
        try:
            response = send(client, target, address, method, path, headers, body, cap, deadline)
        except HopFailure as failure:
            raise Refusal(failure.code, failure.message) from None
        self._record(
            "broker.http.response",
            {
                "hop": hop,
                "host": target.host,
                "status": response.status,
                "response_bytes": len(response.body),
                "response_sha256": response.sha256,
            },
        )
        return response

    def _resolve(self, target: Target, *, allow_private: bool) -> str:
        try:
            addresses = list(self._resolver(target.host, target.port))
        except OSError:
            raise Refusal("upstream_error", f"cannot resolve {target.host}") from None
        if not addresses:
            raise Refusal("upstream_error", f"{target.host} has no address")
        if not allow_private:
            for address in addresses:
                if is_forbidden_address(address):
                    raise Refusal(
                        "forbidden_address",
                        f"{target.host} resolves to {address}, a loopback, private, link-local "
                        "or multicast address",
                    )
        return addresses[0]

    def _reply(
        self,
        req: HttpRequest,
        target: Target,
        path: str,
        hops: int,
        response: HopResponse,
        redactor: Redactor,
    ) -> bytes:
        body = redactor.data(response.body)
        result: dict[str, Any] = {
            "status": response.status,
            "url": redactor.text(_url(target, path)),
            "redirects": hops,
            "headers": {k: redactor.text(v) for k, v in response.headers.items()},
        }
        if req.response_body == "base64":
            result["body_b64"] = base64.b64encode(body).decode("ascii")
        else:
            result["body"] = body.decode(_codec(response.charset), errors="replace")
        return ok_reply(result)

    def _secret_names(self, headers: dict[str, str]) -> set[str]:
        # Names only, for the audit: which granted secrets went out on this hop.
        names = set()
        for name in self._grant.secrets:
            try:
                value = self._secrets.get(name)
            except BrokerError:
                continue
            if any(value in v for v in headers.values()):
                names.add(name)
        return names

    def _record(self, event: str, data: dict[str, JsonValue]) -> None:
        self._audit.record(event, request_id=self._request_id, data=data)


def _parse(request: bytes) -> HttpRequest:
    if len(request) > MAX_REQUEST_BYTES:
        raise Refusal("too_large", f"request over {MAX_REQUEST_BYTES} bytes")
    try:
        doc = json.loads(request.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refusal("bad_request", "request is not UTF-8 JSON") from None
    try:
        envelope = Envelope.model_validate(doc)
    except ValidationError:
        raise Refusal("bad_request", 'request needs integer "v" and string "op"') from None
    if envelope.v != 1:
        raise Refusal("bad_request", f"wire version {envelope.v} is not supported; use 1")
    if envelope.op != "http.request":
        raise Refusal("unknown_op", f"unknown op {envelope.op[:64]!r}; known: http.request")
    try:
        return HttpRequest.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Refusal("bad_request", f"{where}: {first['msg']}") from None


def _check_headers(headers: dict[str, str], secret_headers: dict[str, str]) -> dict[str, str]:
    seen: set[str] = set()
    for name in [*headers, *secret_headers]:
        lower = name.lower()
        if not HEADER_NAME.match(name):
            raise Refusal("bad_request", f"{name[:64]!r} is not a valid header name")
        if lower in FORBIDDEN_HEADERS or lower.startswith("proxy-"):
            raise Refusal("bad_request", f"header {name!r} is set by the broker, not the module")
        if lower in seen:
            raise Refusal("bad_request", f"header {name!r} is given twice")
        seen.add(lower)
    for value in [*headers.values(), *secret_headers.values()]:
        if any(c in value for c in "\r\n\0"):
            raise Refusal("bad_request", "header values must not contain CR, LF or NUL")
    return dict(headers)


def _body(req: HttpRequest) -> bytes | None:
    if req.body is not None and req.body_b64 is not None:
        raise Refusal("bad_request", "give body or body_b64, not both")
    if req.body_b64 is not None:
        try:
            return base64.b64decode(req.body_b64, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal("bad_request", "body_b64 is not valid base64") from None
    return None if req.body is None else req.body.encode("utf-8")


def _target(url: str) -> tuple[Target, str]:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise Refusal("bad_request", f"{url[:200]!r} is not a valid URL") from None
    if parsed.scheme not in DEFAULT_PORTS:
        raise Refusal("bad_request", f"scheme {parsed.scheme!r} is not allowed; use http or https")
    if parsed.userinfo:
        raise Refusal("bad_request", "credentials in the URL are not allowed; use secret_headers")
    if not parsed.host:
        raise Refusal("bad_request", f"{url[:200]!r} has no host")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[parsed.scheme]
    path = parsed.raw_path.decode("ascii") or "/"
    return Target(parsed.scheme, normalize_host(parsed.host), port), path


def _url(target: Target, path: str) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = "" if target.port == DEFAULT_PORTS[target.scheme] else f":{target.port}"
    return f"{target.scheme}://{host}{port}{path}"


def _codec(charset: str | None) -> str:
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return "utf-8"
