"""The capability request: what the model (or a person on the CLI) asks Airlock to do.

A request names a skill and its arguments and says who asks and from where. It carries no
grants: what the skill may touch only ever comes from policy. Requests are built by
:func:`build_request` (from trusted host code that already holds the parts) or parsed by
:func:`parse_request` (from untrusted JSON); both check the arguments against the skill's
manifest and refuse with a :class:`RequestError` a model can act on.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from host.errors import RequestError
from host.request.arguments import DEFAULT_LIMITS, ArgumentLimits, check_arguments, describe_value
from host.request.jid import BareJid
from host.skills.manifest import SKILL_NAME, Manifest

__all__ = ["MAX_REQUEST_BYTES", "CapabilityRequest", "Origin", "build_request", "parse_request"]

Origin = Literal["chat", "room", "protocol", "cli"]
"""Where a request came from: a 1:1 chat, a MUC room, the agent protocol, or the command line."""

# A request document is the arguments plus a few short fields; 256 KiB leaves room for the
# largest arguments allowed (ArgumentLimits.max_bytes can be raised up to this) and no more.
MAX_REQUEST_BYTES = 256 * 1024
REQUEST_ID = r"^[A-Za-z0-9_-]{1,64}$"


def new_request_id() -> str:
    """A fresh random request id (128 bits, URL-safe), never starting with ``-``.

    People paste ids after a flag (``airlock audit show --request-id ID``), where a leading
    ``-`` would read as an option; redrawing the 1 in 64 such ids costs no meaningful entropy.
    """
    while True:
        candidate = secrets.token_urlsafe(16)
        if not candidate.startswith("-"):
            return candidate


class CapabilityRequest(BaseModel):
    """One validated request. Frozen; treat ``arguments`` as read-only.

    For ``origin = "room"`` the ``conversation_id`` is the room's bare JID, which is what policy
    rules with ``room:`` requesters match against.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    request_id: Annotated[str, Field(pattern=REQUEST_ID)]
    skill: Annotated[str, Field(pattern=SKILL_NAME.pattern, max_length=64)]
    arguments: dict[str, Any]
    requester: BareJid
    origin: Origin
    conversation_id: Annotated[
        str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]
    time: datetime

    @field_validator("time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("time must carry a timezone (UTC)")
        try:
            return v.astimezone(UTC)
        except OverflowError:  # e.g. year 9999 with a negative offset
            raise ValueError("time is out of range") from None


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown field `{where}` in the request; a request has no such field"
    if first["type"] == "missing":
        return f"missing field `{where}` in the request"
    return f"field `{where}`: {first['msg']}"


def _manifest_for(skill: object, manifests: Mapping[str, Manifest]) -> Manifest:
    if not isinstance(skill, str) or skill not in manifests:
        known = ", ".join(sorted(manifests)) or "none"
        shown = skill[:64] if isinstance(skill, str) else describe_value(skill)
        raise RequestError(f"unknown skill {shown!r}", hint=f"available skills: {known}")
    return manifests[skill]


def build_request(
    *,
    skill: str,
    arguments: object,
    requester: str,
    origin: Origin,
    conversation_id: str,
    manifests: Mapping[str, Manifest],
    limits: ArgumentLimits = DEFAULT_LIMITS,
    request_id: str | None = None,
    now: datetime | None = None,
) -> CapabilityRequest:
    """A validated request for ``skill``; RequestError naming the first problem otherwise."""
    manifest = _manifest_for(skill, manifests)
    checked = check_arguments(arguments, manifest, limits)
    try:
        return CapabilityRequest(
            request_id=request_id or new_request_id(),
            skill=skill,
            arguments=checked,
            requester=requester,
            origin=origin,
            conversation_id=conversation_id,
            time=now or datetime.now(UTC),
        )
    except ValidationError as exc:
        raise RequestError(_first_error(exc)) from None


def _json_depth_ok(text: str, max_depth: int) -> bool:
    """True when no array/object in ``text`` nests deeper than ``max_depth`` (linear scan).

    Runs before ``json.loads`` so that a hostile document cannot exhaust the parser's stack.
    """
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif ch in "]}":
            depth -= 1
    return True


_FIELDS = ("request_id", "skill", "arguments", "requester", "origin", "conversation_id", "time")


def parse_request(
    raw: bytes | str,
    manifests: Mapping[str, Manifest],
    *,
    limits: ArgumentLimits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> CapabilityRequest:
    """Parse an untrusted JSON request document.

    ``request_id`` and ``time`` are optional (generated when absent); every other field of
    :class:`CapabilityRequest` is required and no other field is accepted.
    """
    size = len(raw)
    if size > MAX_REQUEST_BYTES:
        raise RequestError(f"the request is {size} bytes; at most {MAX_REQUEST_BYTES} are allowed")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise RequestError("the request is not UTF-8 text") from None
    # +1: the request object itself is one level above its arguments.
    if not _json_depth_ok(text, limits.max_depth + 1):
        raise RequestError(f"the request nests deeper than {limits.max_depth} levels")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also integers of 4,300+ digits
        raise RequestError(f"the request is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestError(f"the request must be a JSON object; got {describe_value(doc)}")
    unknown = sorted(k for k in doc if k not in _FIELDS)
    if unknown:
        raise RequestError(
            f"unknown field `{unknown[0][:64]}` in the request; a request has only "
            + ", ".join(f"`{f}`" for f in _FIELDS),
            hint="grants are never part of a request: they come from policy",
        )
    for field in ("skill", "arguments", "requester", "origin", "conversation_id"):
        if field not in doc:
            raise RequestError(f"missing field `{field}` in the request")
    when = now
    if "time" in doc:
        try:
            when = datetime.fromisoformat(str(doc["time"]))
        except ValueError:
            raise RequestError("field `time` must be an ISO 8601 timestamp with a zone") from None
    request_id = doc.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError("field `request_id` must be a string")
    for field in ("requester", "origin", "conversation_id"):
        if not isinstance(doc[field], str):
            raise RequestError(
                f"field `{field}` must be a string; got {describe_value(doc[field])}"
            )
    return build_request(
        skill=doc["skill"],
        arguments=doc["arguments"],
        requester=doc["requester"],
        origin=doc["origin"],
        conversation_id=doc["conversation_id"],
        manifests=manifests,
        limits=limits,
        request_id=request_id,
        now=when,
    )
