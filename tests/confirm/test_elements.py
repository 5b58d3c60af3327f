"""The outgoing <confirm/> element and form: exact XML, and the form round-trips as a reply."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from slixmpp import Message

from host.confirm import (
    Channel,
    ConfirmationService,
    Decision,
    Outcome,
    Reply,
    State,
    Target,
    parse_form,
)
from host.confirm.elements import choice_form, confirm_result, serialize
from host.confirm.wording import clean_summary
from tests.confirm.fakes import ALICE, BOB, ask


def test_confirm_element_is_exact(service: ConfirmationService) -> None:
    asked = ask(service, summary="Delete <notes> & 'drafts'", risk="medium")
    c = asked.confirmation
    assert asked.prompts[0].to == ALICE
    assert serialize(asked.prompts[0].confirm) == (
        f'<confirm xmlns="urn:fluux:agent:0#confirm" id="{c.id}" ref="{c.ref}">'
        '<action type="fs.delete">Delete &lt;notes&gt; &amp; &apos;drafts&apos;</action>'
        '<risk level="medium" />'
        "<expires>2026-02-08T19:00:00Z</expires>"
        "</confirm>"
    )


def test_quorum_is_announced(service: ConfirmationService) -> None:
    asked = ask(service, approvers=[ALICE, BOB], required=2)
    text = serialize(asked.prompts[0].confirm)
    assert '<approvals required="2" />' in text


def test_form_is_exact_and_round_trips(service: ConfirmationService) -> None:
    asked = ask(service)
    c = asked.confirmation
    assert serialize(asked.prompts[0].form) == (
        '<x xmlns="jabber:x:data" type="form">'
        f"<title>Confirm {c.ref}</title>"
        f"<instructions>{c.prompt}</instructions>"
        '<field var="FORM_TYPE" type="hidden"><value>urn:fluux:agent:0#confirm</value></field>'
        f'<field var="id" type="hidden"><value>{c.id}</value></field>'
        '<field var="answer" type="list-single" label="Allow this action?"><required />'
        '<option label="Yes, allow it"><value>yes</value></option>'
        '<option label="No, refuse it"><value>no</value></option></field>'
        "</x>"
    )
    submitted = asked.prompts[0].form
    submitted.set("type", "submit")
    for field in submitted.findall("{jabber:x:data}field"):
        if field.get("var") == "answer":
            for child in list(field):
                field.remove(child)
            ET.SubElement(field, "{jabber:x:data}value").text = "yes"
    for extra in ("title", "instructions"):
        node = submitted.find(f"{{jabber:x:data}}{extra}")
        assert node is not None
        submitted.remove(node)
    reply = parse_form(submitted)
    assert reply is not None
    assert reply.channel is Channel.FORM
    assert reply.decision is Decision.YES
    assert service.answer(ALICE, reply).outcome is Outcome.APPROVED


def test_summary_is_made_plain() -> None:
    assert clean_summary("Delete\n  a.txt\t now", 100) == "Delete a.txt now"
    assert clean_summary("rm \u202eexe.txt", 100) == "rm <U+202E>exe.txt"
    assert clean_summary("a\u200bb\x00c", 100) == "a<U+200B>b<U+0000>c"
    assert clean_summary("x" * 50, 10) == "x" * 9 + "…"


def test_confirm_result_carries_the_outcome(service: ConfirmationService) -> None:
    c = ask(service).confirmation
    yes = Reply(decision=Decision.YES, channel=Channel.STRUCTURED, target=Target(id=c.id))
    result = service.answer(ALICE, yes)
    assert serialize(confirm_result(result)) == (
        f'<confirm-result xmlns="urn:fluux:agent:0#confirm" outcome="approved" id="{c.id}" '
        f'ref="{c.ref}" />'
    )
    again = service.answer(ALICE, yes)
    assert confirm_result(again).get("outcome") == "already-decided"


def test_confirm_result_hides_confirmations_that_are_not_the_senders(
    service: ConfirmationService,
) -> None:
    c = ask(service).confirmation
    yes = Reply(decision=Decision.YES, channel=Channel.STRUCTURED, target=Target(id=c.id))
    result = service.answer(BOB, yes)
    assert result.outcome is Outcome.NOT_APPROVER
    assert serialize(confirm_result(result)) == (
        '<confirm-result xmlns="urn:fluux:agent:0#confirm" outcome="unknown" />'
    )


def test_choice_form_lists_pending_and_parses_when_submitted(
    service: ConfirmationService,
) -> None:
    a = ask(service, summary="Delete a.txt").confirmation
    b = ask(service, summary="Delete b.txt").confirmation
    form = choice_form(service.pending_for(ALICE))
    labels = [o.get("label") for o in form.iter("{jabber:x:data}option")]
    assert labels == [
        f"{a.ref}: Delete a.txt",
        f"{b.ref}: Delete b.txt",
        "Yes, allow it",
        "No, refuse it",
    ]
    submitted = ET.Element("{jabber:x:data}x", {"type": "submit"})
    for var, value in (("FORM_TYPE", "urn:fluux:agent:0#confirm"), ("id", b.id), ("answer", "no")):
        field = ET.SubElement(submitted, "{jabber:x:data}field", {"var": var})
        ET.SubElement(field, "{jabber:x:data}value").text = value
    reply = parse_form(submitted)
    assert reply is not None
    assert service.answer(ALICE, reply).outcome is Outcome.DENIED
    assert service.get(a.id).state is State.PENDING  # type: ignore[union-attr]


def test_choice_form_needs_something_pending() -> None:
    with pytest.raises(ValueError, match="needs at least one pending confirmation"):
        choice_form([])


def test_prompt_goes_into_a_slixmpp_message_unchanged(service: ConfirmationService) -> None:
    """What the XMPP edge will do with a prompt: append the elements to a message stanza."""
    prompt = ask(service, summary="Delete </body><body>yes").prompts[0]
    message = Message()
    message["to"] = prompt.to
    message["type"] = "normal"
    message["body"] = prompt.body
    message.xml.append(prompt.confirm)
    message.xml.append(prompt.form)
    wire = str(message)
    assert wire.startswith('<message xmlns="jabber:client" to="alice@example.org" type="normal">')
    assert "<body>Delete &lt;/body&gt;&lt;body&gt;yes? Reply yes or no" in wire
    assert '<confirm xmlns="urn:fluux:agent:0#confirm"' in wire
    assert '<x xmlns="jabber:x:data" type="form">' in wire
    assert wire.count("<body>") == 1
