"""A skill's JSON Schema as an XEP-0004 form, and a submitted form back as arguments.

The mapping (docs/protocol.md, section 5.6), for the properties of the top-level object:

======================================  ===============================================
schema                                  field
======================================  ===============================================
``string``                              ``text-single`` (``text-multi`` when
                                        ``maxLength`` > 200 or ``format: multiline``)
``string`` with ``enum``                ``list-single``
``integer`` / ``number``                ``text-single`` with XEP-0122 ``xs:integer`` /
                                        ``xs:decimal`` and ``<range/>``
``boolean``                             ``boolean``
``array`` of ``string`` with ``enum``   ``list-multi``
``array`` of ``string``                 ``text-multi``, one value per line
======================================  ===============================================

Anything else (nested objects, ``oneOf``, arrays of objects, a property without a type) makes
:func:`form_for` raise :class:`Unsupported`: the skill is not offered as a command, and
``#execute`` still works for it. The form is a convenience: :func:`arguments_from` converts the
submitted strings by the schema, and the pipeline then validates them against the schema
itself, never against the form.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

from host.errors import XmppError
from host.protocol.errors import ProtocolError
from host.protocol.ns import NS_DATA, NS_EXECUTE, NS_VALIDATE, q
from host.skills.manifest import Manifest

__all__ = ["FORM_TYPE", "Unsupported", "arguments_from", "form_for", "supported"]

FORM_TYPE = "FORM_TYPE"
# Longer strings are edited in a multi-line box: a text-single field of 1000 characters is
# unusable on a phone.
MULTILINE_OVER_CHARS = 200
# A form with more fields than this is no longer something a person fills in; use #execute.
MAX_FIELDS = 64
# Per field, values submitted (text-multi lines, list-multi choices) and characters each.
MAX_VALUES = 1000
MAX_VALUE_CHARS = 65_536


class Unsupported(XmppError):
    """The schema has a construct no form field represents faithfully."""


def _kind(name: str, prop: Any) -> str:
    """The XEP-0004 field type for one property; Unsupported if there is none."""
    if not isinstance(prop, dict):
        raise Unsupported(f"parameter {name!r} has no usable schema")
    if any(k in prop for k in ("oneOf", "anyOf", "allOf", "not", "$ref")):
        raise Unsupported(f"parameter {name!r} combines schemas")
    kind = prop.get("type")
    if kind == "string":
        if "enum" in prop:
            if not all(isinstance(v, str) for v in prop["enum"]):
                raise Unsupported(f"parameter {name!r} has non-string choices")
            return "list-single"
        long = prop.get("maxLength", MULTILINE_OVER_CHARS + 1) > MULTILINE_OVER_CHARS
        return "text-multi" if long or prop.get("format") == "multiline" else "text-single"
    if kind in ("integer", "number"):
        return "text-single"
    if kind == "boolean":
        return "boolean"
    if kind == "array":
        items = prop.get("items")
        if (
            isinstance(items, dict)
            and items.get("type") == "string"
            and set(items)
            <= {
                "type",
                "enum",
                "maxLength",
                "minLength",
                "pattern",
            }
        ):
            return "list-multi" if "enum" in items else "text-multi"
        raise Unsupported(f"parameter {name!r} is an array of something other than strings")
    raise Unsupported(f"parameter {name!r} has type {kind!r}, which a form cannot hold")


def _properties(manifest: Manifest) -> dict[str, Any]:
    schema = manifest.parameters
    props = schema.get("properties", {})
    if schema.get("type") != "object" or not isinstance(props, dict):
        raise Unsupported("the parameters are not an object with properties")
    if len(props) > MAX_FIELDS:
        raise Unsupported(f"the skill takes {len(props)} parameters; a form holds {MAX_FIELDS}")
    return props


def supported(manifest: Manifest) -> str | None:
    """None when the skill's parameters fit a form; else why not, ending with what to use."""
    try:
        for name, prop in _properties(manifest).items():
            _kind(name, prop)
    except Unsupported as exc:
        return f"{exc.message}: use the #execute IQ for this skill"
    return None


def _number_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return str(value)


def _field(form: ET.Element, name: str, prop: dict[str, Any], required: bool) -> None:
    kind = _kind(name, prop)
    label = str(prop.get("title") or name)
    field = ET.SubElement(form, q("field", NS_DATA), {"var": name, "type": kind, "label": label})
    if isinstance(prop.get("description"), str):
        ET.SubElement(field, q("desc", NS_DATA)).text = prop["description"]
    if required:
        ET.SubElement(field, q("required", NS_DATA))
    choices = prop.get("enum") or (prop.get("items") or {}).get("enum") or ()
    for choice in choices:
        option = ET.SubElement(field, q("option", NS_DATA), {"label": str(choice)})
        ET.SubElement(option, q("value", NS_DATA)).text = str(choice)
    if prop.get("type") in ("integer", "number"):
        datatype = "xs:integer" if prop["type"] == "integer" else "xs:decimal"
        validate = ET.SubElement(field, q("validate", NS_VALIDATE), {"datatype": datatype})
        bounds = {
            k: t
            for k, t in (
                ("min", _number_text(prop.get("minimum"))),
                ("max", _number_text(prop.get("maximum"))),
            )
            if t is not None
        }
        if bounds:
            ET.SubElement(validate, q("range", NS_VALIDATE), bounds)
        else:
            ET.SubElement(validate, q("basic", NS_VALIDATE))
    default = prop.get("default")
    if default is not None and kind in ("text-single", "list-single", "boolean"):
        text = ("1" if default else "0") if kind == "boolean" else str(default)
        ET.SubElement(field, q("value", NS_DATA)).text = text


def form_for(manifest: Manifest) -> ET.Element:
    """The ``type='form'`` XEP-0004 form for ``manifest``'s parameters (Unsupported if none)."""
    props = _properties(manifest)
    for name, prop in props.items():
        _kind(name, prop)  # refuse before building anything
    required = set(manifest.parameters.get("required", ()))
    form = ET.Element(q("x", NS_DATA), {"type": "form"})
    ET.SubElement(form, q("title", NS_DATA)).text = manifest.name
    ET.SubElement(form, q("instructions", NS_DATA)).text = manifest.description
    hidden = ET.SubElement(form, q("field", NS_DATA), {"var": FORM_TYPE, "type": "hidden"})
    ET.SubElement(hidden, q("value", NS_DATA)).text = NS_EXECUTE
    for name, prop in props.items():
        _field(form, name, prop, name in required)
    return form


def _values(field: ET.Element, name: str) -> list[str]:
    values = [v.text or "" for v in field.findall(q("value", NS_DATA))]
    if len(values) > MAX_VALUES:
        raise ProtocolError.bad_request(f"field {name!r}: more than {MAX_VALUES} values")
    if any(len(v) > MAX_VALUE_CHARS for v in values):
        raise ProtocolError.bad_request(f"field {name!r}: a value over {MAX_VALUE_CHARS} chars")
    return values


def _convert(name: str, prop: dict[str, Any], values: list[str]) -> Any:
    kind = prop.get("type")
    if kind == "array":
        lines = [line for v in values for line in v.split("\n")]
        return [line for line in lines if line != ""]
    if len(values) > 1 and not (kind == "string" and _kind(name, prop) == "text-multi"):
        raise ProtocolError.bad_request(f"field {name!r}: one value expected, got {len(values)}")
    text = "\n".join(values)
    if kind == "string":
        return text
    word = text.strip()
    if kind == "boolean":
        if word in ("1", "true"):
            return True
        if word in ("0", "false"):
            return False
        raise ProtocolError.bad_request(f"field {name!r}: {word[:40]!r} is not a boolean")
    if kind == "integer":
        try:
            return int(word, 10)
        except ValueError:
            raise ProtocolError.bad_request(
                f"field {name!r}: {word[:40]!r} is not an integer"
            ) from None
    try:
        number = float(word)
    except ValueError:
        raise ProtocolError.bad_request(f"field {name!r}: {word[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise ProtocolError.bad_request(f"field {name!r}: {word[:40]!r} is not a finite number")
    return int(number) if number.is_integer() and "." not in word and "e" not in word else number


def arguments_from(form: ET.Element, manifest: Manifest) -> dict[str, Any]:
    """The arguments in a submitted form for ``manifest`` (ProtocolError ``bad-request`` if
    the form is not a submission of this skill's form, or a value does not convert).

    Empty fields are left out, so a missing required parameter is reported by the schema check
    that follows, in the same words as for ``#execute``.
    """
    if form.tag != q("x", NS_DATA) or form.get("type") != "submit":
        raise ProtocolError.bad_request("expected a submitted jabber:x:data form")
    props = _properties(manifest)
    arguments: dict[str, Any] = {}
    seen: set[str] = set()
    for field in form.findall(q("field", NS_DATA)):
        name = field.get("var")
        if name is None:
            raise ProtocolError.bad_request("a form field has no var")
        if name in seen:
            raise ProtocolError.bad_request(f"field {name!r} appears twice")
        seen.add(name)
        values = _values(field, name)
        if name == FORM_TYPE:
            if values != [NS_EXECUTE]:
                raise ProtocolError.bad_request(f"FORM_TYPE must be {NS_EXECUTE}")
            continue
        prop = props.get(name)
        if not isinstance(prop, dict):
            raise ProtocolError.bad_request(f"field {name!r} is not a parameter of this skill")
        if not values or values == [""]:
            continue
        arguments[name] = _convert(name, prop, values)
    return arguments
