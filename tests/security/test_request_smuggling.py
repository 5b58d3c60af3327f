"""Model output trying to smuggle authority or break the parser through a capability request."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import RequestError
from host.policy.engine import PolicyEngine
from host.policy.loader import load_policy_dir
from host.request import parse_request
from host.request.model import MAX_REQUEST_BYTES
from tests.policy.conftest import manifest, policy_writer, starter_manifests

MANIFESTS = starter_manifests()


def doc(**overrides: object) -> str:
    base: dict[str, object] = {
        "skill": "fs.read",
        "arguments": {"path": "a.md"},
        "requester": "alice@example.org",
        "origin": "chat",
        "conversation_id": "alice@example.org",
    }
    base.update(overrides)
    return json.dumps(base)


@pytest.mark.parametrize("field", ["grant", "dirs", "limits", "approved", "effect", "secrets"])
def test_request_extra_fields_carrying_authority_are_refused(field: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(doc(**{field: {"dirs": ["/"]}}), MANIFESTS)
    assert info.value.message.startswith(f"unknown field `{field}` in the request")
    assert info.value.hint == "grants are never part of a request: they come from policy"


def test_request_grant_inside_arguments_is_refused_by_the_schema() -> None:
    with pytest.raises(RequestError) as info:
        parse_request(doc(arguments={"path": "a", "grant": {"dirs": "/"}}), MANIFESTS)
    assert info.value.message == "unknown argument `grant` for skill fs.read; it takes `path`"


def test_request_arguments_never_change_the_grant(tmp_path: Path) -> None:
    loose = manifest(
        "loose",
        parameters={"type": "object"},  # a careless schema: any arguments at all
        capabilities={"dirs": [{"name": "workspace", "guest": "/workspace", "access": "rw"}]},
    )
    directory = policy_writer(tmp_path / "p")(
        '[[rule]]\nid = "l"\nskills = ["loose"]\nrequesters = ["*"]\neffect = "allow"\n'
        '[rule.grant.dirs.workspace]\npath = "/srv/ws"\naccess = "ro"\n'
    )
    engine = PolicyEngine(load_policy_dir(directory))
    smuggled = {
        "grant": {"dirs": [{"name": "workspace", "host_path": "/", "access": "rw"}]},
        "dirs": {"workspace": {"path": "/", "access": "rw"}},
        "unsafe_allow_destructive": True,
    }
    request = parse_request(doc(skill="loose", arguments=smuggled), {"loose": loose})
    decision = engine.decide(request, loose)
    assert [(str(d.host_path), d.access) for d in decision.grant.dirs] == [("/srv/ws", "ro")]


def test_request_oversized_document_is_refused_before_parsing() -> None:
    huge = doc(arguments={"path": "a", "x": "y" * MAX_REQUEST_BYTES})
    with pytest.raises(RequestError) as info:
        parse_request(huge, MANIFESTS)
    assert (
        info.value.message
        == f"the request is {len(huge)} bytes; at most {MAX_REQUEST_BYTES} are allowed"
    )


def test_request_deep_nesting_is_refused_without_recursion() -> None:
    deep = '{"skill":"fs.read","arguments":{"path":' + "[" * 100_000 + "]" * 100_000 + "}}"
    with pytest.raises(RequestError, match="the request nests deeper than 16 levels"):
        parse_request(deep[:MAX_REQUEST_BYTES], MANIFESTS)


def test_request_huge_integer_is_a_request_error() -> None:
    with pytest.raises(RequestError, match="the request is not valid JSON: Exceeds the limit"):
        parse_request('{"skill": "echo", "arguments": {"text": ' + "9" * 5000 + "}}", MANIFESTS)


def test_request_oversized_values_inside_the_cap_are_named() -> None:
    with pytest.raises(RequestError) as info:
        parse_request(doc(skill="echo", arguments={"text": "x" * 20_000}), MANIFESTS)
    assert info.value.message == (
        "argument `text` is a string of 20000 characters; at most 16384 are allowed"
    )


@pytest.mark.parametrize(
    ("requester", "error"),
    [
        ("alice@example.org/laptop", "has a resource"),
        ("alice@example.org\u0000", "is not a host name"),
        ("<script>@example.org", "may not contain"),
        ("", "empty or overlong domain"),
    ],
)
def test_request_requester_must_be_a_clean_bare_jid(requester: str, error: str) -> None:
    with pytest.raises(RequestError, match=f"field `requester`: Value error, .*{error}"):
        parse_request(doc(requester=requester), MANIFESTS)


def test_request_lookalike_skill_name_is_unknown() -> None:
    with pytest.raises(RequestError) as info:
        parse_request(doc(skill="fs.re\u0430d"), MANIFESTS)  # Cyrillic a
    assert info.value.message == "unknown skill 'fs.re\u0430d'"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_request_fuzzed_bytes_give_request_errors_only(raw: bytes | str) -> None:
    with contextlib.suppress(RequestError):
        parse_request(raw, MANIFESTS)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "skill",
                "arguments",
                "requester",
                "origin",
                "conversation_id",
                "time",
                "request_id",
                "extra",
            ]
        ),
        JSON | st.sampled_from(["fs.read", "echo", "chat", "room", "a@b.org", "2026-01-01T00:00Z"]),
    )
)
def test_request_fuzzed_documents_give_request_errors_only(fields: dict[str, object]) -> None:
    try:
        request = parse_request(json.dumps(fields), MANIFESTS)
    except RequestError:
        return
    assert request.skill in MANIFESTS  # what got through is a valid request for a known skill
