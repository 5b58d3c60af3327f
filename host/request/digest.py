"""The action digest: what a human approves when they confirm a request.

An approval is bound to this digest, so it cannot be replayed for different arguments, another
requester or a wider grant. It is the sha256 of the canonical JSON (see
:mod:`host.audit.canonical`) of::

    {"v": 1, "skill": ..., "arguments": ..., "requester": ..., "grant": <Grant as JSON>}
"""

from __future__ import annotations

from typing import Any

from host.audit.canonical import sha256_json
from host.audit.sink import JsonValue
from host.policy.grant import Grant
from host.request.model import CapabilityRequest

__all__ = ["action_digest", "grant_json"]

DIGEST_VERSION = 1


def grant_json(grant: Grant) -> JsonValue:
    """``grant`` as plain JSON, with its sets sorted so the encoding is canonical."""
    doc: dict[str, Any] = grant.model_dump(mode="json")
    for entry in doc["http"]:
        entry["methods"] = sorted(entry["methods"])
    return doc


def action_digest(request: CapabilityRequest, grant: Grant) -> str:
    """Hex sha256 over the request's skill, arguments, requester and the effective grant."""
    return sha256_json(
        {
            "v": DIGEST_VERSION,
            "skill": request.skill,
            "arguments": request.arguments,
            "requester": request.requester,
            "grant": grant_json(grant),
        }
    )
