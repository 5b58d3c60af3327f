"""Confirmation answers that arrive as chat text or as stanzas, routed to the confirmation core.

The XMPP edge calls :meth:`ConfirmationRouter.route_text` with every one-to-one chat body
*before* the agent sees it (and with every room line, ``room=True``): ``yes``/``no``,
``/approve REF``, ``/deny REF`` and ``/pending`` are answered here and never reach the language
model. ``None`` means the text is
ordinary conversation (a plain "yes" with nothing waiting for the sender is the answer to
something the agent asked, not a confirmation).

Structured replies (``<confirm-response/>``) and form submissions go through
:meth:`ConfirmationRouter.answer`, with the channel the stanza arrived on; group chat is
``Channel.ROOM``, which the core refuses however the reply is phrased.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from host.confirm import (
    AnswerResult,
    Channel,
    Confirmation,
    ConfirmationService,
    Outcome,
    Reply,
    Unclear,
    parse_text,
)
from host.confirm.elements import confirm_result
from host.confirm.models import bare_jid

__all__ = ["ConfirmationRouter", "Routed"]

PENDING_COMMAND = "/pending"


@dataclass(frozen=True)
class Routed:
    """The reply to send back: text for every client, and ``<confirm-result/>`` if any."""

    text: str
    element: ET.Element | None = None


class ConfirmationRouter:
    """Routes answers from verified senders to one :class:`ConfirmationService`."""

    def __init__(self, service: ConfirmationService) -> None:
        self._service = service

    def waits_for(self, sender: str) -> bool:
        """Whether something waits for ``sender`` to answer (read-only; nothing is audited)."""
        try:
            return bool(self._service.pending_for(bare_jid(sender)))
        except ValueError:
            return False

    def pending(self, sender: str) -> list[Confirmation]:
        """What waits for ``sender`` to answer, oldest first."""
        return self._service.pending_for(sender)

    def route_text(self, sender: str, body: str, *, room: bool = False) -> Routed | None:
        """The reply to ``body`` from ``sender`` (a verified bare JID) if it is about a
        confirmation; None if it is conversation for the agent."""
        if body.strip().casefold() == PENDING_COMMAND and not room:
            return Routed(self._service.pending_text(sender))
        parsed = parse_text(body, channel=Channel.ROOM if room else Channel.DIRECT_CHAT)
        if parsed is None:
            return None
        if isinstance(parsed, Unclear):
            # In a room no wording counts, so how to answer there is not worth saying.
            return Routed(parsed.message) if not room and self.waits_for(sender) else None
        if room and not self.waits_for(sender):
            return None  # a "yes" in a room, with nothing asked of the speaker, is just chat
        result = self.answer(sender, parsed)
        if result.outcome is Outcome.NOTHING_PENDING and parsed.channel is Channel.DIRECT_CHAT:
            return None
        return Routed(result.reply_text, confirm_result(result))

    def answer(self, sender: str, reply: Reply) -> AnswerResult:
        """Apply one parsed reply from ``sender``'s verified bare JID."""
        return self._service.answer(sender, reply)
