"""The #execute element: parsing by the schema, results and the error mapping (unit and fuzz)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.gateway import ConfirmTrace, Executed
from host.pipeline import PipelineOutcome
from host.protocol.errors import ProtocolError
from host.protocol.execute import error_for, parse_execute, result_element
from host.protocol.skills import skills_query
from host.skills.manifest import Manifest
from host.skills.outcome import Outcome
from sandbox.spec import RunResult, Status

EX = "urn:fluux:agent:0#execute"
M = Manifest.model_validate(
    {
        "name": "notes.search",
        "version": "0.1.0",
        "description": "Search notes.",
        "destructive": True,
        "effect": "Searches the notes.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    }
)


def element(*params: tuple[str, str], **attrs: str) -> ET.Element:
    root = ET.Element(f"{{{EX}}}execute", {"skill": "notes.search", **attrs})
    for name, text in params:
        ET.SubElement(root, f"{{{EX}}}param", {"name": name}).text = text
    return root


def test_strings_are_taken_as_they_are_and_the_rest_as_json() -> None:
    req = parse_execute(element(("query", ' "5" '), ("limit", "5"), ("tags", '["a","b"]')), M)
    assert (req.skill, req.arguments) == (
        "notes.search",
        {"query": ' "5" ', "limit": 5, "tags": ["a", "b"]},
    )


@pytest.mark.parametrize(
    ("el", "text"),
    [
        (
            element(("limit", "five")),
            "param 'limit': 'five' is not a JSON value "
            "(only string parameters are taken as plain text)",
        ),
        (element(("query", "a"), ("query", "b")), "param 'query' is given twice"),
        (element(("requester", "eve@x")), "param 'requester' is not a parameter of notes.search"),
        (element(owner="eve@x"), "execute: unknown attribute(s) ['owner']"),
    ],
)
def test_malformed_requests_are_bad_requests(el: ET.Element, text: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_execute(el, M)
    assert (caught.value.condition, caught.value.etype, caught.value.text) == (
        "bad-request",
        "modify",
        text,
    )


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=40)), max_size=6))
def test_any_params_parse_or_are_refused_as_bad_request(params: list[tuple[str, str]]) -> None:
    clean = [(n, t) for n, t in params if all(c.isprintable() for c in n + t)]
    try:
        req = parse_execute(element(*clean), M)
    except ProtocolError as exc:
        refused: ProtocolError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.condition == "bad-request"
        return
    assert set(req.arguments) <= {"query", "limit", "tags"}
    if "query" in req.arguments:
        assert isinstance(req.arguments["query"], str)


def executed(status: str, message: str = "", answer: Outcome | None = None, **kw: Any) -> Executed:
    return Executed(PipelineOutcome(status, "req-1", message, None, answer), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        (executed("invalid", "argument `limit` must be an integer"), ("bad-request", "modify")),
        (executed("denied", "no policy rule allows skill x for y"), ("not-authorized", "auth")),
        (executed("rate_limited", "rule r: try later"), ("resource-constraint", "wait")),
        (executed("denied", "rate limit of rule r reached"), ("not-authorized", "auth")),
        (executed("failed", "boom", incident="abc"), ("internal-server-error", "wait")),
        (Executed(None, incident="abc"), ("internal-server-error", "wait")),
        (
            executed("not_confirmed", "x", trace=ConfirmTrace(refused="5 waiting")),
            ("resource-constraint", "wait"),
        ),
        (executed("not_confirmed", "x", trace=ConfirmTrace()), ("not-acceptable", "cancel")),
    ],
)
def test_outcomes_map_to_exact_conditions(done: Executed, expected: tuple[str, str]) -> None:
    error = error_for(done)
    assert (error.condition, error.etype) == expected
    assert "policy rule" not in error.text  # policy text never goes on the wire


def test_a_failed_run_is_a_failed_result_with_the_skill_error() -> None:
    run = RunResult(status=Status.OUT_OF_FUEL, error="fuel exhausted")
    answer = Outcome(run, error_code="out_of_fuel", error_message="fuel exhausted")
    result = result_element("notes.search", executed("failed", "x", answer))
    assert (result.get("status"), result.find(f"{{{EX}}}failure").get("reason")) == (  # type: ignore[union-attr]
        "failed",
        "fuel",
    )
    output = result.find(f"{{{EX}}}output")
    assert output is not None
    assert json.loads(output.text or "")["error"]["code"] == "out_of_fuel"


def test_skills_query_carries_the_schemas() -> None:
    query = skills_query([M])
    skill = query.find("{urn:fluux:agent:0#skills}skill")
    assert skill is not None
    assert (skill.get("name"), skill.get("version"), skill.get("destructive")) == (
        "notes.search",
        "0.1.0",
        "true",
    )
    params = skill.findtext("{urn:fluux:agent:0#skills}parameters")
    assert json.loads(params or "") == M.parameters
