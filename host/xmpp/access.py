"""Who may make the agent do anything: default deny.

An :class:`AccessList` allows a bare JID when it is listed exactly, or when its domain is one of
the allowed domains. An empty list allows nobody. JIDs are compared after lowercasing; the XMPP
server (and slixmpp's stringprep) has already normalised them, and a resource never counts.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["AccessList"]


class AccessList:
    """Allowed bare JIDs and domains."""

    def __init__(self, jids: Iterable[str] = (), domains: Iterable[str] = ()) -> None:
        self.jids = frozenset(j.lower() for j in jids)
        self.domains = frozenset(d.lower() for d in domains)

    @classmethod
    def of(cls, principals: Iterable[str]) -> AccessList:
        """Build from a mixed list where entries with ``@`` are JIDs and others domains."""
        items = list(principals)
        return cls(jids=[p for p in items if "@" in p], domains=[p for p in items if "@" not in p])

    @property
    def empty(self) -> bool:
        """Whether this list allows nobody."""
        return not self.jids and not self.domains

    def allows(self, bare_jid: str) -> bool:
        """Whether ``bare_jid`` (``user@domain``; a full JID's resource is ignored) is allowed."""
        bare = bare_jid.split("/", 1)[0].lower()
        if not bare or "@" not in bare:
            return False
        if bare in self.jids:
            return True
        return bare.rsplit("@", 1)[1] in self.domains
