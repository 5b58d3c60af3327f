"""Turning what an approver sent into a :class:`~host.confirm.models.Reply`.

Four ways to answer, all pure functions of their input:

1. ``<confirm-response xmlns='urn:fluux:agent:0#confirm' id='...' answer='yes'/>``
   (:func:`parse_confirm_response`). One attribute with a closed set of values, rather than
   ``<approve/>``/``<deny/>`` children: there is no way to write both, or neither, and nothing
   to decide about precedence.
2. A plain ``yes`` or ``no`` in the one-to-one chat (:func:`parse_text`). Strict on purpose:
   the whole message must be one of a few words (case-insensitive, surrounding blanks and
   trailing ``.``/``!`` ignored). "yes please delete everything" is *not* a yes, and "no
   problem, go ahead" is *not* a no: a message that starts like an answer but says more is
   :class:`Unclear`, and the approver is asked to answer plainly. Nothing here guesses.
3. ``/approve REF`` and ``/deny REF`` (also :func:`parse_text`); without REF they mean the one
   confirmation pending for this approver, like a plain yes/no.
4. An XEP-0004 submission of the form in :func:`host.confirm.elements.confirm_form`, in a
   message or as an XEP-0050 command stage (:func:`parse_form`).

The parsers take the channel the edge saw. Text from a group chat, from the model or from a
skill's output keeps that channel through parsing, so the service refuses it however well it is
phrased.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from pydantic import BaseModel, ConfigDict

from host.confirm.elements import FORM_TYPE, NS_CONFIRM, NS_DATA, q
from host.confirm.models import (
    CONFIRMATION_ID,
    REF,
    Channel,
    Decision,
    Reply,
    Target,
)
from host.errors import ConfirmError

YES_WORDS = frozenset({"yes", "y", "approve", "approved", "confirm", "confirmed"})
NO_WORDS = frozenset({"no", "n", "deny", "denied", "reject", "cancel"})
# An answer is a word; anything much longer is conversation and goes to the agent untouched.
MAX_ANSWER_CHARS = 120
_COMMAND = re.compile(r"^/(approve|deny)(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_FIRST_WORD = re.compile(r"[^\W_]+")
_TEXT_CHANNELS = frozenset({Channel.DIRECT_CHAT, Channel.ROOM, Channel.MODEL, Channel.TOOL_OUTPUT})


class MalformedReply(ConfirmError):
    """A confirmation reply element or form is malformed (the edge answers bad-request)."""


class Unclear(BaseModel):
    """Text that looks like an answer but is not one; ``message`` says how to answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str


def _word(text: str) -> str:
    return text.strip().rstrip(".!").strip().casefold()


def _target(arg: str) -> Target | None:
    arg = arg.strip().casefold()
    if REF.match(arg):
        return Target(ref=arg)
    if CONFIRMATION_ID.match(arg):
        return Target(id=arg)
    return None


def parse_text(text: str, *, channel: Channel = Channel.DIRECT_CHAT) -> Reply | Unclear | None:
    """A reply if ``text`` is one, :class:`Unclear` if it nearly is, ``None`` if it is chat.

    :class:`Unclear` means the text starts with an answer word but says more; the edge shows its
    message only when something is pending for the sender (see ``pending_for``), and otherwise
    treats the text as ordinary conversation.

    ``channel`` is where the text was seen (``direct_chat``, ``room``, ``model`` or
    ``tool_output``). A slash command in a direct chat becomes ``command``; every other channel
    is kept as it is, so the service can refuse it.
    """
    if channel not in _TEXT_CHANNELS:
        raise ConfirmError(f"internal: text cannot arrive on channel {channel.value}")
    if len(text) > MAX_ANSWER_CHARS:
        return None
    stripped = text.strip()
    command = _COMMAND.match(stripped)
    if command:
        decision = Decision.YES if command.group(1).casefold() == "approve" else Decision.NO
        arg = (command.group(2) or "").strip()
        target = Target() if not arg else _target(arg)
        if target is None:
            return Unclear(
                message=f"Use /{command.group(1).lower()} followed by one ref, "
                "like /approve action-7742; /pending lists yours."
            )
        kept = Channel.COMMAND if channel is Channel.DIRECT_CHAT else channel
        return Reply(decision=decision, channel=kept, target=target)
    word = _word(stripped)
    if word in YES_WORDS:
        return Reply(decision=Decision.YES, channel=channel)
    if word in NO_WORDS:
        return Reply(decision=Decision.NO, channel=channel)
    first = _FIRST_WORD.match(stripped)
    if first and first.group(0).casefold() in YES_WORDS | NO_WORDS:
        return Unclear(
            message="To answer a confirmation, reply with just yes or no "
            "(or /approve REF, /deny REF)."
        )
    return None


def _decision(value: str | None, where: str) -> Decision:
    if value not in ("yes", "no"):
        # The bad value is untrusted and may be huge: it is echoed only in part.
        got = "nothing" if value is None else repr(value[:40])
        raise MalformedReply(f"{where}: answer must be 'yes' or 'no'", hint=f"got {got}")
    return Decision(value)


def _confirmation_id(value: str | None, where: str) -> str:
    if value is None or not CONFIRMATION_ID.match(value):
        raise MalformedReply(
            f"{where}: id must be the 32-hex-digit id of a <confirm/> element",
            hint="echo the id attribute of the confirm element unchanged",
        )
    return value


def parse_confirm_response(element: ET.Element, *, channel: Channel = Channel.STRUCTURED) -> Reply:
    """The reply in a ``<confirm-response/>`` element. Raises :class:`MalformedReply`.

    Exactly two attributes, ``id`` and ``answer``, and no children: a strict element leaves
    nothing for two implementations to read differently.
    """
    where = "confirm-response"
    if element.tag != q("confirm-response"):
        raise MalformedReply(f"expected {{{NS_CONFIRM}}}confirm-response, got {element.tag}")
    extra = set(element.attrib) - {"id", "answer"}
    if extra:
        raise MalformedReply(f"{where}: unknown attribute(s) {sorted(extra)}")
    if len(element) or (element.text or "").strip():
        raise MalformedReply(f"{where}: must be empty")
    return Reply(
        decision=_decision(element.get("answer"), where),
        channel=channel,
        target=Target(id=_confirmation_id(element.get("id"), where)),
    )


def _form_fields(form: ET.Element) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for child in form:
        if child.tag != q("field", NS_DATA):
            continue
        var = child.get("var")
        if var is None:
            continue
        if var in fields:
            raise MalformedReply(f"form: field {var!r} appears twice")
        fields[var] = [(v.text or "").strip() for v in child.findall(q("value", NS_DATA))]
    return fields


def parse_form(form: ET.Element, *, channel: Channel = Channel.FORM) -> Reply | None:
    """The reply in a submitted ``jabber:x:data`` form, or ``None`` if it is not ours.

    ``None`` for any form whose ``FORM_TYPE`` is not ``urn:fluux:agent:0#confirm`` (it belongs
    to someone else) and for ``type='cancel'`` (the approver closed the form without answering;
    silence is left to expire, which is a no). Raises :class:`MalformedReply` for our form with a
    missing, repeated or invalid ``id`` or ``answer``.
    """
    if form.tag != q("x", NS_DATA):
        raise MalformedReply(f"expected a {{{NS_DATA}}}x form, got {form.tag}")
    fields = _form_fields(form)
    if fields.get(FORM_TYPE) != [NS_CONFIRM]:
        return None
    kind = form.get("type")
    if kind == "cancel":
        return None
    if kind != "submit":
        raise MalformedReply(f"form: type must be 'submit', got {kind!r}")
    extra = set(fields) - {FORM_TYPE, "id", "answer"}
    if extra:
        raise MalformedReply(f"form: unknown field(s) {sorted(extra)}")
    ids, answers = fields.get("id", []), fields.get("answer", [])
    if len(ids) != 1 or len(answers) != 1:
        raise MalformedReply("form: fields id and answer need exactly one value each")
    return Reply(
        decision=_decision(answers[0], "form"),
        channel=channel,
        target=Target(id=_confirmation_id(ids[0], "form")),
    )
