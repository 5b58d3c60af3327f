"""The XML the confirmation core sends: the ``<confirm/>`` element and its XEP-0004 form.

Both are built as ElementTree elements in Clark notation (``{namespace}tag``), which slixmpp
appends to a stanza as they are; untrusted text only ever goes in as element text or attribute
values, which the serialiser escapes. See docs/protocol.md for the wire format::

    <confirm xmlns='urn:fluux:agent:0#confirm' id='3f2a...' ref='action-7742'>
      <action type='fs.delete'>Delete notes/2026.md in your workspace</action>
      <risk level='high'/>
      <expires>2026-02-08T19:00:00Z</expires>
    </confirm>
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from slixmpp.xmlstream import tostring

from host.confirm.models import AnswerResult, Confirmation, Outcome

NS_AGENT = "urn:fluux:agent:0"
NS_CONFIRM = f"{NS_AGENT}#confirm"
NS_DATA = "jabber:x:data"
# XEP-0068: the hidden field that says which kind of form this is.
FORM_TYPE = "FORM_TYPE"


def q(tag: str, ns: str = NS_CONFIRM) -> str:
    """``tag`` in Clark notation."""
    return f"{{{ns}}}{tag}"


def iso(moment: datetime) -> str:
    """XEP-0082 DateTime in UTC with a ``Z``, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def confirm_element(c: Confirmation) -> ET.Element:
    """The ``<confirm/>`` element that asks for ``c``; the client echoes ``id`` back."""
    root = ET.Element(q("confirm"), {"id": c.id, "ref": c.ref})
    action = ET.SubElement(root, q("action"), {"type": c.skill})
    action.text = c.summary
    ET.SubElement(root, q("risk"), {"level": c.risk.value})
    if c.required > 1:
        ET.SubElement(root, q("approvals"), {"required": str(c.required)})
    expires = ET.SubElement(root, q("expires"))
    expires.text = iso(c.expires_at)
    return root


def _answer_field(form: ET.Element) -> None:
    answer = ET.SubElement(
        form,
        q("field", NS_DATA),
        {"var": "answer", "type": "list-single", "label": "Allow this action?"},
    )
    ET.SubElement(answer, q("required", NS_DATA))
    for value, label in (("yes", "Yes, allow it"), ("no", "No, refuse it")):
        option = ET.SubElement(answer, q("option", NS_DATA), {"label": label})
        ET.SubElement(option, q("value", NS_DATA)).text = value


def _field(form: ET.Element, var: str, kind: str, *values: str, label: str | None = None) -> None:
    attrs = {"var": var, "type": kind}
    if label is not None:
        attrs["label"] = label
    field = ET.SubElement(form, q("field", NS_DATA), attrs)
    for value in values:
        ET.SubElement(field, q("value", NS_DATA)).text = value


def confirm_form(c: Confirmation) -> ET.Element:
    """The XEP-0004 form for ``c`` (in the prompt message, or as an XEP-0050 command stage).

    Submitting it with ``answer`` set to ``yes`` or ``no`` is a reply (see
    :func:`host.confirm.answers.parse_form`).
    """
    form = ET.Element(q("x", NS_DATA), {"type": "form"})
    ET.SubElement(form, q("title", NS_DATA)).text = f"Confirm {c.ref}"
    ET.SubElement(form, q("instructions", NS_DATA)).text = c.prompt
    _field(form, FORM_TYPE, "hidden", NS_CONFIRM)
    _field(form, "id", "hidden", c.id)
    _answer_field(form)
    return form


def choice_form(pending: list[Confirmation]) -> ET.Element:
    """The first stage of the XEP-0050 command ``urn:fluux:agent:0#confirm``: pick one of
    ``pending`` (what waits for the sender, from ``pending_for``) and answer it.

    Submitted, it parses like the prompt's form. Raises ValueError on an empty list: with
    nothing pending the command completes with a note instead.
    """
    if not pending:
        raise ValueError("choice_form needs at least one pending confirmation")
    form = ET.Element(q("x", NS_DATA), {"type": "form"})
    ET.SubElement(form, q("title", NS_DATA)).text = "Pending confirmations"
    _field(form, FORM_TYPE, "hidden", NS_CONFIRM)
    choice = ET.SubElement(
        form, q("field", NS_DATA), {"var": "id", "type": "list-single", "label": "Action"}
    )
    ET.SubElement(choice, q("required", NS_DATA))
    for c in pending:
        option = ET.SubElement(choice, q("option", NS_DATA), {"label": f"{c.ref}: {c.summary}"})
        ET.SubElement(option, q("value", NS_DATA)).text = c.id
    _answer_field(form)
    return form


def confirm_result(result: AnswerResult) -> ET.Element:
    """The ``<confirm-result/>`` element that goes back with ``result.reply_text``.

    ``not_approver`` goes on the wire as ``unknown``, without id or ref: a sender learns nothing
    about confirmations that are not theirs to answer.
    """
    hidden = result.outcome in (Outcome.NOT_APPROVER, Outcome.UNKNOWN)
    outcome = "unknown" if hidden else result.outcome.value.replace("_", "-")
    element = ET.Element(q("confirm-result"), {"outcome": outcome})
    if result.confirmation is not None and not hidden:
        element.set("id", result.confirmation.id)
        element.set("ref", result.confirmation.ref)
    return element


def serialize(element: ET.Element) -> str:
    """``element`` as XML text with default namespaces, as it appears on the wire."""
    return str(tostring(element))
