"""The namespaces of the agent protocol (docs/protocol.md) and the XEPs it builds on."""

from __future__ import annotations

from host.confirm.elements import NS_AGENT, NS_CONFIRM, NS_DATA

__all__ = [
    "FEATURES",
    "NS_AGENT",
    "NS_COMMANDS",
    "NS_CONFIRM",
    "NS_DATA",
    "NS_EXECUTE",
    "NS_SKILLS",
    "NS_STANZAS",
    "NS_VALIDATE",
    "q",
]

NS_SKILLS = f"{NS_AGENT}#skills"
NS_EXECUTE = f"{NS_AGENT}#execute"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_VALIDATE = "http://jabber.org/protocol/xdata-validate"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

# What service discovery advertises (section 4): the protocol, its three parts, and the XEPs.
FEATURES = (NS_AGENT, NS_SKILLS, NS_EXECUTE, NS_CONFIRM, NS_COMMANDS, NS_DATA)


def q(tag: str, ns: str) -> str:
    """``tag`` in Clark notation (``{namespace}tag``)."""
    return f"{{{ns}}}{tag}"
