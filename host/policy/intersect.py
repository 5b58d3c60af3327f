"""The effective grant: what the manifest declares AND what the deciding rule grants.

Never wider than either side, field by field:

- dirs: only labels both declare; host path from the policy (``{requester}`` replaced by the
  requester's bare JID), guest path from the manifest; ``rw`` only when both say ``rw``.
- http: for each pair of a policy host and a manifest host, the narrower of the two when one
  covers the other (a manifest host ``"*"`` means "whatever the policy grants"); methods are
  the intersection; sizes and ``unsafe_allow_private`` come from the policy (the manifest does
  not declare them). When several policy entries cover one host, only the most specific
  applies (an exact host before a ``*.`` pattern), so entries are never mixed.
- env and secrets: only names the manifest declares; values of env from the policy, secret
  values never appear (the broker injects them by name).
- limits: the field-wise minimum of the manifest's and the rule's limits.
"""

from __future__ import annotations

from pathlib import Path

from host.policy.grant import DirGrant, Grant, HttpGrant
from host.policy.schema import GrantDoc, HttpDoc
from host.skills.manifest import Manifest

__all__ = ["effective_grant", "narrower_host"]


def _split(host: str) -> tuple[str, str]:
    name, _, port = host.partition(":")
    return name.lower(), port


def narrower_host(policy: str, manifest: str) -> str | None:
    """The narrower of two host patterns when one covers the other, else None.

    Patterns are exact (``api.example.org``), subdomain wildcards (``*.example.org``, which
    does not match ``example.org`` itself), or ``"*"`` (manifest only: any host the policy
    names). Ports must be equal (or both absent).
    """
    if manifest == "*":
        return policy
    (p_name, p_port), (m_name, m_port) = _split(policy), _split(manifest)
    if p_port != m_port:
        return None
    if p_name == m_name:
        return policy
    if m_name.startswith("*.") and p_name.endswith(m_name[1:]):
        return policy
    if p_name.startswith("*.") and m_name.endswith(p_name[1:]):
        return manifest
    return None


def effective_grant(manifest: Manifest, doc: GrantDoc, requester: str) -> Grant:
    """The grant a run of ``manifest``'s skill gets under a rule granting ``doc``, for
    ``requester`` (a normalised bare JID; it names ``{requester}`` folders)."""
    caps = manifest.capabilities
    dirs = []
    for need in caps.dirs:
        given = doc.dirs.get(need.name)
        if given is None:
            continue
        access = "rw" if need.access == "rw" and given.access == "rw" else "ro"
        dirs.append(
            DirGrant(
                name=need.name,
                host_path=Path(given.host_path(requester)),
                guest_path=need.guest,
                access=access,
            )
        )
    http: dict[str, HttpGrant] = {}
    source: dict[str, HttpDoc] = {}
    # The most specific policy entry for a host applies (exact before "*.", longer suffix
    # first); a host one entry already granted is not widened by a broader entry.
    for offer in sorted(doc.http, key=lambda h: (h.host.startswith("*."), -len(h.host))):
        for want in caps.http:
            host = narrower_host(offer.host, want.host)
            methods = frozenset(offer.methods) & want.methods
            if host is None or not methods or source.get(host, offer) is not offer:
                continue
            if host in http:  # two manifest entries led to one host: union within one offer
                methods |= http[host].methods
            source[host] = offer
            http[host] = HttpGrant(
                host=host,
                methods=methods,
                max_request_kb=offer.max_request_kb,
                max_response_kb=offer.max_response_kb,
                unsafe_allow_private=offer.unsafe_allow_private,
            )
    declared_env = set(caps.env)
    declared_secrets = set(caps.secrets)
    return Grant(
        dirs=tuple(dirs),
        http=tuple(http[h] for h in sorted(http)),
        env=tuple(sorted((k, v) for k, v in doc.env.items() if k in declared_env)),
        secrets=tuple(sorted(s for s in set(doc.secrets) if s in declared_secrets)),
        limits=manifest.limits.narrowed(doc.limits),
    )
