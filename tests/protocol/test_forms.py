"""JSON Schema -> XEP-0004 form, and a submitted form -> arguments (unit and fuzz)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.protocol.errors import ProtocolError
from host.protocol.forms import arguments_from, form_for, supported
from host.skills.manifest import Manifest

D = "jabber:x:data"
V = "http://jabber.org/protocol/xdata-validate"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["query"],
    "additionalProperties": False,
    "properties": {
        "query": {"type": "string", "maxLength": 200, "description": "What to look for."},
        "body": {"type": "string", "maxLength": 5000},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        "ratio": {"type": "number"},
        "exact": {"type": "boolean", "default": False},
        "mode": {"type": "string", "enum": ["fast", "full"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "kinds": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
    },
}


def manifest(parameters: dict[str, Any]) -> Manifest:
    return Manifest.model_validate(
        {"name": "notes.search", "version": "0.1.0", "description": "Search notes.",
         "parameters": parameters}
    )  # fmt: skip


def fields(form: ET.Element) -> dict[str, ET.Element]:
    return {f.get("var") or "": f for f in form.findall(f"{{{D}}}field")}


def submit(**values: str | list[str]) -> ET.Element:
    form = ET.Element(f"{{{D}}}x", {"type": "submit"})
    for var, value in {"FORM_TYPE": "urn:fluux:agent:0#execute", **values}.items():
        field = ET.SubElement(form, f"{{{D}}}field", {"var": var})
        for v in [value] if isinstance(value, str) else value:
            ET.SubElement(field, f"{{{D}}}value").text = v
    return form


def test_each_schema_type_gets_its_field() -> None:
    found = fields(form_for(manifest(SCHEMA)))
    kinds = {var: f.get("type") for var, f in found.items()}
    assert kinds == {
        "FORM_TYPE": "hidden",
        "query": "text-single",
        "body": "text-multi",
        "limit": "text-single",
        "ratio": "text-single",
        "exact": "boolean",
        "mode": "list-single",
        "tags": "text-multi",
        "kinds": "list-multi",
    }
    assert found["query"].find(f"{{{D}}}required") is not None
    assert found["limit"].find(f"{{{D}}}required") is None
    assert found["query"].findtext(f"{{{D}}}desc") == "What to look for."
    validate = found["limit"].find(f"{{{V}}}validate")
    assert validate is not None
    assert validate.get("datatype") == "xs:integer"
    rng = validate.find(f"{{{V}}}range")
    assert rng is not None
    assert (rng.get("min"), rng.get("max")) == ("1", "50")
    assert found["ratio"].find(f"{{{V}}}validate").get("datatype") == "xs:decimal"  # type: ignore[union-attr]
    assert [o.findtext(f"{{{D}}}value") for o in found["mode"]] == ["fast", "full"]


@pytest.mark.parametrize(
    "prop",
    [
        {"type": "object", "properties": {}},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "array", "items": {"type": "object"}},
        {"enum": ["a", "b"]},
    ],
)
def test_unsupported_constructs_point_to_execute(prop: dict[str, Any]) -> None:
    m = manifest({"type": "object", "properties": {"x": prop}})
    note = supported(m)
    assert note is not None
    assert note.startswith("parameter 'x'")
    assert note.endswith(": use the #execute IQ for this skill")


def test_submitted_values_are_typed_by_the_schema() -> None:
    args = arguments_from(
        submit(query="budget", body=["line one", "line two"], limit="5", ratio="0.5",
               exact="1", mode="full", tags=["a", "b"], kinds=["b"]),
        manifest(SCHEMA),
    )  # fmt: skip
    assert args == {
        "query": "budget",
        "body": "line one\nline two",
        "limit": 5,
        "ratio": 0.5,
        "exact": True,
        "mode": "full",
        "tags": ["a", "b"],
        "kinds": ["b"],
    }
    jsonschema.validate(args, SCHEMA)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"limit": "five"}, "field 'limit': 'five' is not an integer"),
        ({"ratio": "nan"}, "field 'ratio': 'nan' is not a finite number"),
        ({"exact": "maybe"}, "field 'exact': 'maybe' is not a boolean"),
        ({"limit": ["1", "2"]}, "field 'limit': one value expected, got 2"),
        ({"owner": "eve@example.org"}, "field 'owner' is not a parameter of this skill"),
        ({"FORM_TYPE": "urn:other"}, "FORM_TYPE must be urn:fluux:agent:0#execute"),
    ],
)
def test_conversion_errors_name_the_field(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        arguments_from(submit(**values), manifest(SCHEMA))
    assert (caught.value.condition, caught.value.text) == ("bad-request", message)


def test_empty_fields_are_left_to_the_schema_check() -> None:
    assert arguments_from(submit(query="", limit=""), manifest(SCHEMA)) == {}


@given(
    st.dictionaries(
        st.sampled_from(["query", "body", "limit", "ratio", "exact", "mode", "tags", "x"]),
        st.lists(st.text(max_size=30), max_size=3),
        max_size=6,
    )
)
def test_any_submission_converts_or_names_its_problem(values: dict[str, list[str]]) -> None:
    try:
        args = arguments_from(submit(**values), manifest(SCHEMA))  # type: ignore[arg-type]
    except ProtocolError as exc:
        refused: ProtocolError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.condition == "bad-request"
        assert refused.text.startswith(("field '", "FORM_TYPE"))
        return
    assert set(args) <= set(SCHEMA["properties"])
    for name, value in args.items():
        kind = SCHEMA["properties"][name]["type"]
        expected = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                    "array": list}[kind]  # fmt: skip
        assert isinstance(value, expected)


def _prop() -> st.SearchStrategy[dict[str, Any]]:
    words = st.text(alphabet="abcxyz", min_size=1, max_size=5)
    return st.one_of(
        st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(1, 400)),
        st.builds(
            lambda e: {"type": "string", "enum": e},
            st.lists(words, min_size=1, max_size=3, unique=True),
        ),
        st.just({"type": "integer", "minimum": -5, "maximum": 5}),
        st.just({"type": "number"}),
        st.just({"type": "boolean"}),
        st.just({"type": "array", "items": {"type": "string"}}),
        st.just({"type": "object"}),  # unsupported: the whole skill goes to #execute
    )


def _value(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = prop["type"]
    if kind == "string" and "enum" in prop:
        return st.sampled_from(prop["enum"])
    if kind == "string":
        alphabet = st.characters(blacklist_categories=("Cs", "Cc"))
        return st.text(alphabet=alphabet, min_size=1, max_size=min(prop["maxLength"], 20))
    if kind == "integer":
        return st.integers(-5, 5)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f + 0.5)
    if kind == "boolean":
        return st.booleans()
    return st.lists(st.text(alphabet="abc ", min_size=1, max_size=8), max_size=3)


def _text(value: Any) -> str | list[str]:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), _prop(), max_size=5), st.data()
)
def test_a_filled_form_gives_back_the_arguments(props: dict[str, Any], data: st.DataObject) -> None:
    m = manifest({"type": "object", "properties": props})
    if supported(m) is not None:
        assert any(p["type"] == "object" for p in props.values())
        return
    form = form_for(m)
    assert set(fields(form)) == {"FORM_TYPE", *props}
    chosen = {name: data.draw(_value(prop)) for name, prop in props.items()}
    submitted = arguments_from(submit(**{k: _text(v) for k, v in chosen.items()}), m)
    assert submitted == {k: v for k, v in chosen.items() if v != []}  # an empty list is no value
