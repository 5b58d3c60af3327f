"""Capability requests: building, parsing untrusted JSON, argument errors a model can act on."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from host.errors import RequestError
from host.policy.grant import DirGrant, Grant
from host.request import (
    CapabilityRequest,
    action_digest,
    build_request,
    parse_bare_jid,
    parse_request,
)
from host.request.arguments import ArgumentLimits
from host.request.model import REQUEST_ID, new_request_id
from tests.policy.conftest import starter_manifests

MANIFESTS = starter_manifests()
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def request_doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "skill": "fs.read",
        "arguments": {"path": "notes.md"},
        "requester": "alice@example.org",
        "origin": "chat",
        "conversation_id": "alice@example.org",
    }
    doc.update(overrides)
    return doc


def parse(**overrides: object) -> CapabilityRequest:
    return parse_request(json.dumps(request_doc(**overrides)), MANIFESTS, now=NOW)


def test_build_request_normalises_the_requester() -> None:
    request = build_request(
        skill="fs.read",
        arguments={"path": "a.md"},
        requester="Alice@Example.ORG",
        origin="chat",
        conversation_id="c",
        manifests=MANIFESTS,
        now=NOW,
    )
    assert request.requester == "alice@example.org"
    assert request.time == NOW
    assert len(request.request_id) >= 16


def test_request_ids_can_follow_a_flag_on_the_command_line() -> None:
    # One id in 64 would start with "-" and read as an option after --request-id; at 4,000
    # draws a generator that allowed it would show one with near certainty.
    ids = [new_request_id() for _ in range(4000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(re.fullmatch(REQUEST_ID, i) and len(i) == 22 for i in ids)
    assert len(set(ids)) == len(ids)


def test_parse_request_fills_id_and_time() -> None:
    request = parse_request(json.dumps(request_doc()), MANIFESTS, now=NOW)
    assert request.skill == "fs.read"
    assert request.arguments == {"path": "notes.md"}
    assert request.time == NOW


@pytest.mark.parametrize(
    ("jid", "error"),
    [
        ("alice@example.org/phone", "has a resource"),
        ("@example.org", "empty local part"),
        ("al ice@example.org", "may not contain spaces"),
        ("alice@exa_mple.org", "is not a host name"),
    ],
)
def test_bad_jids_are_refused(jid: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_bare_jid(jid)


def test_unknown_skill_lists_the_available_ones() -> None:
    with pytest.raises(RequestError) as info:
        parse(skill="fs.format")
    assert info.value.message == "unknown skill 'fs.format'"
    assert info.value.hint is not None
    assert "fs.read" in info.value.hint


def test_wrong_type_says_what_was_expected_and_what_came() -> None:
    with pytest.raises(RequestError) as info:
        parse(arguments={"path": 42})
    assert info.value.message == (
        "argument `path` must be a string of at most 1024 characters; got an integer"
    )


def test_too_long_string_is_refused_by_the_schema() -> None:
    with pytest.raises(RequestError) as info:
        parse(arguments={"path": "x" * 1025})
    assert info.value.message == (
        "argument `path` must be a string of at most 1024 characters; "
        "got a string of 1025 characters"
    )


def test_missing_and_unknown_arguments_are_named() -> None:
    with pytest.raises(RequestError, match=r"missing required argument `path`"):
        parse(arguments={})
    with pytest.raises(RequestError) as info:
        parse(arguments={"path": "a", "mode": "rw"})
    assert info.value.message == "unknown argument `mode` for skill fs.read; it takes `path`"


def test_unknown_request_field_is_refused() -> None:
    with pytest.raises(RequestError) as info:
        parse(priority="high")
    assert info.value.message.startswith("unknown field `priority` in the request")


def test_missing_field_is_named() -> None:
    doc = request_doc()
    del doc["requester"]
    with pytest.raises(RequestError, match=r"^missing field `requester` in the request$"):
        parse_request(json.dumps(doc), MANIFESTS)


def test_time_without_zone_is_refused() -> None:
    with pytest.raises(RequestError, match="timezone"):
        parse(time="2026-01-01T00:00:00")


def test_time_beyond_the_calendar_is_refused() -> None:
    with pytest.raises(RequestError, match="time is out of range"):
        parse(time="9999-12-31T23:59:59-23:59")


def test_generic_caps_run_before_the_schema() -> None:
    limits = ArgumentLimits(max_string=10)
    with pytest.raises(RequestError) as info:
        parse_request(
            json.dumps(request_doc(arguments={"path": "x" * 11})), MANIFESTS, limits=limits
        )
    assert info.value.message == (
        "argument `path` is a string of 11 characters; at most 10 are allowed"
    )


def test_not_json_and_not_object() -> None:
    with pytest.raises(RequestError, match="not valid JSON"):
        parse_request("{", MANIFESTS)
    with pytest.raises(RequestError, match="must be a JSON object; got an array of 0 items"):
        parse_request("[]", MANIFESTS)


def test_action_digest_binds_arguments_requester_and_grant() -> None:
    base = parse(request_id="r1")
    same = parse_request(
        json.dumps({**request_doc(), "request_id": "r2"}, sort_keys=True), MANIFESTS, now=NOW
    )
    other_args = parse(arguments={"path": "other.md"})
    other_who = parse(requester="bob@example.org")
    grant = Grant()
    wider = Grant(dirs=(DirGrant(name="workspace", host_path=Path("/srv/w"), guest_path="/w"),))
    digest = action_digest(base, grant)
    assert digest == action_digest(same, grant)
    assert len(digest) == 64
    assert digest != action_digest(other_args, grant)
    assert digest != action_digest(other_who, grant)
    assert digest != action_digest(base, wider)
