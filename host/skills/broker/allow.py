"""Matching one URL hop against the run's HTTP grants, and classifying addresses.

A grant host is ``name`` or ``name:port`` or ``*.domain`` (any subdomain, not the domain itself).
Without a port it allows only the scheme's default port (80 for http, 443 for https): a grant for
``api.example.org`` must not reach an admin service on ``api.example.org:8080``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from host.policy.grant import HttpGrant

DEFAULT_PORTS = {"http": 80, "https": 443}

# name, port -> addresses; injectable so tests can stand in for DNS.
Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True)
class Target:
    """Where one hop goes: scheme, normalized host name, port."""

    scheme: str
    host: str
    port: int

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def normalize_host(host: str) -> str:
    """Lower-case, without a trailing dot (``Example.ORG.`` and ``example.org`` are one host)."""
    return host.lower().rstrip(".")


def matching_grant(target: Target, method: str, grants: Sequence[HttpGrant]) -> HttpGrant | None:
    """The first grant that allows ``method`` on ``target``, or None."""
    for grant in grants:
        if method in grant.methods and _host_matches(grant.host, target):
            return grant
    return None


def host_granted(target: Target, grants: Sequence[HttpGrant]) -> bool:
    """Whether any grant names this host and port (whatever the method)."""
    return any(_host_matches(g.host, target) for g in grants)


def _host_matches(pattern: str, target: Target) -> bool:
    name, port = _split_port(normalize_host(pattern))
    wanted_port = port if port is not None else DEFAULT_PORTS[target.scheme]
    if target.port != wanted_port:
        return False
    if name.startswith("*."):
        suffix = name[1:]  # ".example.org"
        return target.host.endswith(suffix) and len(target.host) > len(suffix)
    return target.host == name


def _split_port(host: str) -> tuple[str, int | None]:
    if host.startswith("["):  # [::1]:8080
        end = host.index("]")
        rest = host[end + 1 :]
        return host[1:end], int(rest[1:]) if rest.startswith(":") else None
    if host.count(":") == 1:
        name, port = host.split(":")
        return name, int(port)
    return host, None


def is_forbidden_address(address: str) -> bool:
    """True for anything that is not a global unicast address: loopback, private, shared (CGNAT),
    link-local, multicast, reserved, unspecified, and IPv4 embedded in IPv6 that is one of these.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and is_forbidden_address(str(embedded)):
            return True
    return ip.is_multicast or not ip.is_global


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), in resolver order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen
