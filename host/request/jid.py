"""Bare JIDs (``local@domain`` or ``domain``), validated and normalised.

Policy rules and audit records compare requesters as strings, so every JID is normalised once,
here: both parts lowercased (XMPP servers treat them case-insensitively), no resource (a
requester is an account, not one of its devices), and only characters that RFC 7622 allows in
each part. This is a strict subset of RFC 7622: anything exotic is refused rather than guessed.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["BareJid", "parse_bare_jid"]

MAX_PART_BYTES = 1023  # RFC 7622 section 3.1: each part is at most 1023 octets
_LOCAL_FORBIDDEN = re.compile(r"[\"&'/:<>@\s\x00-\x1f\x7f]")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def parse_bare_jid(text: str) -> str:
    """``text`` as a normalised bare JID; ValueError saying what is wrong otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"a JID must be a string, got {type(text).__name__}")
    if "/" in text:
        raise ValueError(f"{text[:80]!r} has a resource; give the bare JID (local@domain)")
    local, sep, domain = text.rpartition("@")
    if not sep:
        local, domain = "", text
    elif not local:
        raise ValueError(f"{text[:80]!r} has an empty local part")
    domain = domain.lower().rstrip(".")
    if not domain or len(domain.encode()) > MAX_PART_BYTES:
        raise ValueError(f"{text[:80]!r} has an empty or overlong domain")
    if not all(_DOMAIN_LABEL.match(label) for label in domain.split(".")):
        raise ValueError(
            f"{text[:80]!r}: domain {domain[:80]!r} is not a host name (letters, digits, '-', '.')"
        )
    if local:
        if len(local.encode()) > MAX_PART_BYTES:
            raise ValueError(f"{text[:80]!r}: local part is over {MAX_PART_BYTES} bytes")
        if _LOCAL_FORBIDDEN.search(local):
            raise ValueError(
                f"{text[:80]!r}: the local part may not contain spaces, controls or any of "
                "\" & ' / : < > @"
            )
        return f"{local.lower()}@{domain}"
    return domain


BareJid = Annotated[str, AfterValidator(parse_bare_jid)]
"""A pydantic field type: a bare JID, normalised by :func:`parse_bare_jid`."""
