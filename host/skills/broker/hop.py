"""One HTTP exchange to an address the broker has already checked.

The connection goes to ``address`` (the resolved, checked IP), never to the name, so a DNS
answer that changes between the check and the connect (rebinding) cannot redirect it. The name
still goes in ``Host`` and, for https, in SNI and certificate verification.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass

import httpx

from host.skills.broker.allow import DEFAULT_PORTS, Target
from host.skills.broker.wire import ErrorCode

MAX_RESPONSE_HEADERS = 64  # returned to the module; more is a misbehaving server


class HopFailure(Exception):
    """The exchange failed; ``code`` is the wire error code (timeout, too_large, upstream_error)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


@dataclass(frozen=True)
class HopResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    charset: str | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def send(
    client: httpx.Client,
    target: Target,
    address: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    max_response_bytes: int,
    deadline: float,
) -> HopResponse:
    """Send one request to ``address`` as ``target`` and read at most ``max_response_bytes``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    netloc_ip = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"{target.scheme}://{netloc_ip}:{target.port}{path}"
    host_header = (
        target.host
        if target.port == DEFAULT_PORTS[target.scheme]
        else (f"{target.host}:{target.port}")
    )
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        method,
        url,
        headers={**headers, "Host": host_header},
        content=body,
        extensions=extensions,
    )
    try:
        response = client.send(request, stream=True)
    except httpx.TimeoutException:
        raise HopFailure("timeout", f"{target.host} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise HopFailure("upstream_error", f"{target.host}: {type(exc).__name__}") from None
    try:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_response_bytes:
            raise HopFailure(
                "too_large",
                f"response of {declared} bytes is over the {max_response_bytes} byte cap",
            )
        chunks: list[bytes] = []
        size = 0
        try:
            # iter_bytes decodes gzip/deflate, so the cap is on what the module would get:
            # a compression bomb stops at the cap, not at its compressed size.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_response_bytes:
                    raise HopFailure(
                        "too_large", f"response is over the {max_response_bytes} byte cap"
                    )
                if time.monotonic() > deadline:
                    raise HopFailure("timeout", f"{target.host} took too long to send its body")
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise HopFailure("timeout", f"{target.host} stopped sending its body") from None
        except httpx.HTTPError as exc:
            raise HopFailure("upstream_error", f"{target.host}: {type(exc).__name__}") from None
        names = list(dict.fromkeys(k.lower() for k in response.headers))[:MAX_RESPONSE_HEADERS]
        return HopResponse(
            status=response.status_code,
            headers={n: ", ".join(response.headers.get_list(n)) for n in names},
            body=b"".join(chunks),
            charset=response.charset_encoding,
        )
    finally:
        response.close()
