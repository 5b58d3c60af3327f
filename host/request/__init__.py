"""Capability requests: parsing, validation against the skill manifest, and the action digest."""

from host.request.arguments import ArgumentLimits
from host.request.digest import action_digest
from host.request.jid import BareJid, parse_bare_jid
from host.request.model import CapabilityRequest, Origin, build_request, parse_request

__all__ = [
    "ArgumentLimits",
    "BareJid",
    "CapabilityRequest",
    "Origin",
    "action_digest",
    "build_request",
    "parse_bare_jid",
    "parse_request",
]
