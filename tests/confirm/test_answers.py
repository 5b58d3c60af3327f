"""Answer parsers: exact behaviour on the documented inputs, and fuzzing for everything else."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.confirm import (
    Channel,
    Decision,
    MalformedReply,
    Reply,
    Target,
    Unclear,
    parse_confirm_response,
    parse_form,
    parse_text,
)
from host.confirm.answers import NO_WORDS, YES_WORDS
from host.errors import ConfirmError

CID = "0123456789abcdef0123456789abcdef"
NS = "urn:fluux:agent:0#confirm"


def xml(text: str) -> ET.Element:
    """Parse a literal test document (trusted: written in this file)."""
    return ET.fromstring(text)  # noqa: S314


def form(*fields: tuple[str, list[str]], kind: str = "submit") -> ET.Element:
    body = "".join(
        f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
        for var, values in fields
    )
    return xml(f"<x xmlns='jabber:x:data' type='{kind}'>{body}</x>")


OURS = ("FORM_TYPE", [NS])


@pytest.mark.parametrize("text", ["yes", "Yes", " YES. ", "y", "approve", "Confirmed!", "yes!!"])
def test_plain_yes(text: str) -> None:
    assert parse_text(text) == Reply(decision=Decision.YES, channel=Channel.DIRECT_CHAT)


@pytest.mark.parametrize("text", ["no", "No.", " n ", "deny", "REJECT", "cancel"])
def test_plain_no(text: str) -> None:
    assert parse_text(text) == Reply(decision=Decision.NO, channel=Channel.DIRECT_CHAT)


@pytest.mark.parametrize(
    "text", ["yes please delete everything", "no problem, go ahead", "yes?", "Yes, but not that"]
)
def test_almost_answers_are_unclear_not_guessed(text: str) -> None:
    result = parse_text(text)
    assert isinstance(result, Unclear)
    assert result.message.startswith("To answer a confirmation, reply with just yes or no")


@pytest.mark.parametrize("text", ["", "   ", "what is yes", "okay", "yesterday", "nope", "x" * 500])
def test_other_text_is_conversation(text: str) -> None:
    assert parse_text(text) is None


def test_commands_with_a_ref_or_an_id() -> None:
    assert parse_text("/approve action-7742") == Reply(
        decision=Decision.YES, channel=Channel.COMMAND, target=Target(ref="action-7742")
    )
    assert parse_text("/DENY  Action-7742 ") == Reply(
        decision=Decision.NO, channel=Channel.COMMAND, target=Target(ref="action-7742")
    )
    assert parse_text(f"/approve {CID}") == Reply(
        decision=Decision.YES, channel=Channel.COMMAND, target=Target(id=CID)
    )
    assert parse_text("/approve") == Reply(decision=Decision.YES, channel=Channel.COMMAND)


@pytest.mark.parametrize("text", ["/approve 7742", "/deny action-1 action-2", "/approve all"])
def test_commands_with_a_bad_argument_are_unclear(text: str) -> None:
    result = parse_text(text)
    assert isinstance(result, Unclear)
    assert "followed by one ref, like /approve action-7742" in result.message


@pytest.mark.parametrize("channel", [Channel.ROOM, Channel.MODEL, Channel.TOOL_OUTPUT])
def test_untrusted_channels_survive_parsing(channel: Channel) -> None:
    assert parse_text("yes", channel=channel) == Reply(decision=Decision.YES, channel=channel)
    parsed = parse_text("/approve action-7742", channel=channel)
    assert isinstance(parsed, Reply)
    assert parsed.channel is channel


def test_text_cannot_claim_a_structured_channel() -> None:
    with pytest.raises(ConfirmError, match="text cannot arrive on channel structured"):
        parse_text("yes", channel=Channel.STRUCTURED)


def test_confirm_response() -> None:
    element = xml(f"<confirm-response xmlns='{NS}' id='{CID}' answer='no'/>")
    assert parse_confirm_response(element) == Reply(
        decision=Decision.NO, channel=Channel.STRUCTURED, target=Target(id=CID)
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (f"<confirm-response xmlns='{NS}' id='{CID}' answer='YES'/>", "answer must be 'yes'"),
        (f"<confirm-response xmlns='{NS}' id='{CID}'/>", "answer must be 'yes' or 'no'"),
        (f"<confirm-response xmlns='{NS}' id='action-7742' answer='yes'/>", "32-hex-digit id"),
        (f"<confirm-response xmlns='{NS}' answer='yes'/>", "32-hex-digit id"),
        (f"<confirm-response xmlns='{NS}' id='{CID}' answer='yes' by='x'/>", "unknown attribute"),
        (f"<confirm-response xmlns='{NS}' id='{CID}' answer='yes'>yes</confirm-response>", "empty"),
        (f"<confirm-response id='{CID}' answer='yes'/>", "expected {urn:fluux:agent:0#confirm}"),
    ],
)
def test_malformed_confirm_response(document: str, message: str) -> None:
    with pytest.raises(MalformedReply, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_confirm_response(xml(document))


def test_form_submission() -> None:
    submitted = form(OURS, ("id", [CID]), ("answer", ["yes"]))
    assert parse_form(submitted) == Reply(
        decision=Decision.YES, channel=Channel.FORM, target=Target(id=CID)
    )


def test_forms_that_are_not_ours_or_cancelled_are_not_replies() -> None:
    assert parse_form(form(("FORM_TYPE", ["urn:other"]), ("answer", ["yes"]))) is None
    assert parse_form(form(("answer", ["yes"]), ("id", [CID]))) is None
    assert parse_form(form(OURS, kind="cancel")) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([OURS, ("id", [CID])], "need exactly one value each"),
        ([OURS, ("id", [CID]), ("answer", ["yes", "no"])], "need exactly one value each"),
        ([OURS, ("id", [CID]), ("answer", ["maybe"])], "answer must be 'yes' or 'no'"),
        ([OURS, ("id", ["x"]), ("answer", ["yes"])], "32-hex-digit id"),
        ([OURS, ("id", [CID]), ("answer", ["yes"]), ("approver", ["a@b"])], "unknown field"),
        ([OURS, ("id", [CID]), ("id", [CID]), ("answer", ["yes"])], "appears twice"),
    ],
)
def test_malformed_forms(fields: list[tuple[str, list[str]]], message: str) -> None:
    with pytest.raises(MalformedReply, match=message):
        parse_form(form(*fields))


def test_bad_answer_is_echoed_only_in_part() -> None:
    element = ET.Element(q_response(), {"id": CID, "answer": "x" * 10_000})
    with pytest.raises(MalformedReply) as caught:
        parse_confirm_response(element)
    assert caught.value.hint == "got " + repr("x" * 40)


def q_response() -> str:
    return f"{{{NS}}}confirm-response"


def test_form_must_be_a_submission() -> None:
    with pytest.raises(MalformedReply, match="type must be 'submit', got 'result'"):
        parse_form(form(OURS, ("id", [CID]), ("answer", ["yes"]), kind="result"))


@given(st.text(max_size=200))
def test_fuzz_text_yes_only_for_the_exact_words(text: str) -> None:
    result = parse_text(text)
    word = text.strip().rstrip(".!").strip().casefold()
    if isinstance(result, Reply) and result.channel is Channel.DIRECT_CHAT:
        expected = YES_WORDS if result.decision is Decision.YES else NO_WORDS
        assert word in expected
    elif result is not None and not isinstance(result, Unclear):
        assert result.channel is Channel.COMMAND
        assert text.strip().casefold().startswith(("/approve", "/deny"))


@given(st.sampled_from(sorted(YES_WORDS | NO_WORDS)), st.text(min_size=1, max_size=40))
def test_fuzz_an_answer_word_followed_by_more_is_never_an_answer(word: str, tail: str) -> None:
    text = f"{word} {tail}"
    result = parse_text(text)
    if tail.strip().rstrip(".!").strip():
        assert not isinstance(result, Reply)


ATTR = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@given(
    st.dictionaries(st.sampled_from(["id", "answer", "by", "ref"]), ATTR, max_size=4),
    st.booleans(),
)
def test_fuzz_confirm_response_parses_or_refuses_cleanly(
    attrs: dict[str, str], with_child: bool
) -> None:
    element = ET.Element(f"{{{NS}}}confirm-response", attrs)
    if with_child:
        ET.SubElement(element, f"{{{NS}}}approve")
    try:
        reply = parse_confirm_response(element)
    except MalformedReply:
        return
    assert set(attrs) == {"id", "answer"}
    assert not with_child
    assert reply.target.id == attrs["id"]
    assert reply.decision.value == attrs["answer"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["FORM_TYPE", "id", "answer", "other"]),
            st.lists(st.sampled_from([NS, CID, "yes", "no", "", "junk"]), max_size=3),
        ),
        max_size=5,
    ),
    st.sampled_from(["submit", "cancel", "form", "result"]),
)
def test_fuzz_forms_parse_or_refuse_cleanly(fields: list[tuple[str, list[str]]], kind: str) -> None:
    element = ET.Element("{jabber:x:data}x", {"type": kind})
    for var, values in fields:
        field = ET.SubElement(element, "{jabber:x:data}field", {"var": var})
        for value in values:
            ET.SubElement(field, "{jabber:x:data}value").text = value
    try:
        reply = parse_form(element)
    except MalformedReply:
        return
    if reply is not None:
        assert kind == "submit"
        assert reply.target.id == CID
        assert reply.channel is Channel.FORM
