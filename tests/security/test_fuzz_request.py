"""Fuzzing ``parse_request``: everything the model writes is untrusted (design invariant 1).

Whatever the model emits, parsing it gives either a :class:`CapabilityRequest` that names a known
skill and whose arguments satisfy that skill's JSON schema, or a :class:`RequestError` the model
can read; never another exception (which would escape the agent loop's error handling) and never
a request that carries something the schema refuses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import RequestError
from host.request import CapabilityRequest, parse_request
from host.skills.manifest import Manifest

# Cheap properties (parsing only): twice the profile's examples.
FUZZ = settings(max_examples=2 * settings.default.max_examples)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NOTE = Manifest.model_validate(
    {
        "name": "notes.write",
        "version": "0.1.0",
        "description": "Write a note.",
        "parameters": {
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "maxLength": 100, "pattern": "^[a-z0-9_./-]+$"},
                "count": {"type": "integer", "minimum": 0, "maximum": 10},
                "mode": {"enum": ["append", "replace"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
            },
        },
    }
)
MANIFESTS = {NOTE.name: NOTE}
ENVELOPE: dict[str, Any] = {
    "skill": "notes.write",
    "arguments": {"path": "today.md"},
    "requester": "alice@example.org",
    "origin": "chat",
    "conversation_id": "alice@example.org",
}
FIELDS = [*ENVELOPE, "request_id", "time", "grant", "grants", "dirs"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["path", "count", "mode", "tags", "x"]), inner, max_size=4
        )
    ),
    max_leaves=16,
)


def outcome(raw: bytes | str) -> CapabilityRequest | RequestError:
    try:
        request = parse_request(raw, MANIFESTS, now=NOW)
    except RequestError as exc:
        error = exc
    else:
        return _sound(request)
    assert error.message, "a refusal must say what is wrong"
    return error


def _sound(request: CapabilityRequest) -> CapabilityRequest:
    # What an accepted request guarantees to the policy engine.
    assert request.skill in MANIFESTS
    jsonschema.Draft202012Validator(MANIFESTS[request.skill].parameters).validate(request.arguments)
    assert request.time.tzinfo is UTC
    assert "/" not in request.requester
    return request


@FUZZ
@given(raw=st.binary(max_size=512))
def test_fuzz_request_arbitrary_bytes(raw: bytes) -> None:
    outcome(raw)


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=9))
def test_fuzz_request_random_documents(doc: dict[str, Any]) -> None:
    result = outcome(json.dumps(doc))
    if isinstance(result, CapabilityRequest):
        assert not {"grant", "grants", "dirs"} & set(doc), "a request never carries a grant"


@FUZZ
@given(arguments=json_values)
def test_fuzz_request_arguments_match_the_schema_exactly(arguments: Any) -> None:
    # Differential: the request is accepted exactly when the skill's schema accepts the arguments
    # (within the generic caps, which these small values never reach).
    result = outcome(json.dumps({**ENVELOPE, "arguments": arguments}))
    valid = isinstance(arguments, dict) and jsonschema.Draft202012Validator(
        NOTE.parameters
    ).is_valid(arguments)
    assert isinstance(result, CapabilityRequest) == valid


@FUZZ
@given(field=st.sampled_from(sorted(ENVELOPE)), value=json_values)
def test_fuzz_request_envelope_fields(field: str, value: Any) -> None:
    result = outcome(json.dumps({**ENVELOPE, field: value}))
    if isinstance(result, RequestError) and field != "arguments":
        assert field in result.message or "skill" in result.message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 100_000, id="deep"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"{" + b" " * (300 * 1024) + b"}", id="oversized"),
    ],
)
def test_hostile_request_gets_a_request_error(raw: bytes | str) -> None:
    assert isinstance(outcome(raw), RequestError)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b'{"skill": "notes.write", "arguments": {"count": ' + b"9" * 5000 + b"}}",
            id="integer-of-5000-digits",
        ),
        pytest.param(
            json.dumps({**ENVELOPE, "time": "9999-12-31T23:59:59-23:59"}), id="time-overflow"
        ),
    ],
)
def test_request_edge_values_get_a_request_error(raw: bytes | str) -> None:
    # Found by this fuzzing: these used to escape as ValueError and OverflowError.
    assert isinstance(outcome(raw), RequestError)
