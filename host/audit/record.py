"""One audit record, its hash, and its exact bytes on disk.

A record is one line of canonical JSON (:mod:`host.audit.canonical`)::

    {"data":{...},"event":"policy.decision","hash":"<hex>","prev":"<hex>","request_id":"...",
     "seq":12,"time":"2026-01-02T03:04:05.678901Z"}

``hash`` is the sha256 of the canonical JSON of the record without ``hash``; ``prev`` is the
previous record's ``hash`` (64 zeros for the very first record of a series); ``seq`` counts from
0 without gaps across rotated files. Because the line must be exactly the canonical encoding,
any changed byte is detected, not only changes that alter the JSON value.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from host.audit.canonical import canonical_json, sha256_json

__all__ = ["GENESIS", "MAX_RECORD_BYTES", "AuditEvent", "AuditRecord", "seal"]

GENESIS = "0" * 64
# 64 KiB per line: records carry digests and sizes, never outputs; a bigger record is a bug.
MAX_RECORD_BYTES = 64 * 1024
EVENT_NAME = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*$")
HEX64 = r"^[0-9a-f]{64}$"
TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"


class AuditEvent(StrEnum):
    """Events the pipeline writes, in the order one request produces them (the confirmation
    subsystem and the broker add their own ``confirm.*`` and ``broker.*`` events)."""

    REQUEST_RECEIVED = "request.received"
    REQUEST_INVALID = "request.invalid"
    POLICY_DECISION = "policy.decision"
    CONFIRM_ASKED = "confirm.asked"
    CONFIRM_ANSWERED = "confirm.answered"
    CONFIRM_EXPIRED = "confirm.expired"
    RUN_STARTED = "run.started"
    RUN_RESULT = "run.result"
    ERROR = "error"
    POLICY_LOADED = "policy.loaded"


class AuditRecord(BaseModel):
    """A parsed record; :meth:`line` gives the exact bytes it must have on disk."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    seq: Annotated[int, Field(ge=0)]
    time: Annotated[str, Field(pattern=TIME)]
    event: Annotated[str, Field(pattern=EVENT_NAME.pattern, max_length=64)]
    request_id: Annotated[str, Field(max_length=128)] | None
    data: dict[str, Any]
    prev: Annotated[str, Field(pattern=HEX64)]
    hash: Annotated[str, Field(pattern=HEX64)]

    def body(self) -> dict[str, Any]:
        """The hashed part: every field but ``hash``."""
        return self.model_dump(exclude={"hash"})

    def expected_hash(self) -> str:
        return sha256_json(self.body())

    def line(self) -> bytes:
        """The canonical line, newline included."""
        return canonical_json(self.model_dump()) + b"\n"


def seal(
    *, seq: int, time: str, event: str, request_id: str | None, data: dict[str, Any], prev: str
) -> AuditRecord:
    """A new record with its hash computed."""
    body: dict[str, Any] = {
        "seq": seq,
        "time": time,
        "event": event,
        "request_id": request_id,
        "data": data,
        "prev": prev,
    }
    return AuditRecord(**body, hash=sha256_json(body))
