"""Chat text and stanzas routed to the confirmation core before the agent sees them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host.confirm import Channel, ConfirmationService, Outcome, Reply, Target
from host.confirm.models import Decision
from host.protocol import ConfirmationRouter
from tests.confirm.fakes import ALICE, BOB, ManualClock, MemoryAudit, ask, open_service


@pytest.fixture
def routing(
    tmp_path: Path,
) -> Iterator[tuple[ConfirmationRouter, ConfirmationService, MemoryAudit]]:
    audit = MemoryAudit()
    service = open_service(tmp_path / "c.sqlite", ManualClock(), audit)
    yield ConfirmationRouter(service), service, audit
    service.store.close()


Routing = tuple[ConfirmationRouter, ConfirmationService, MemoryAudit]


def test_conversation_is_left_to_the_agent(routing: Routing) -> None:
    r, _, audit = routing
    assert r.route_text(ALICE, "what time is it?") is None
    assert r.route_text(ALICE, "yes") is None  # nothing waits: the answer to the agent's question
    assert r.route_text(ALICE, "yes please delete it") is None
    assert audit.events == []


def test_answers_bind_to_what_waits_for_the_sender(routing: Routing) -> None:
    r, service, audit = routing
    asked = ask(service, approvers=[BOB])
    unclear = r.route_text(BOB, "yes please delete it")
    assert unclear is not None
    assert unclear.text.startswith("To answer a confirmation, reply with just yes or no")
    listing = r.route_text(BOB, "/pending")
    assert listing is not None
    assert asked.confirmation.ref in listing.text
    routed = r.route_text(BOB, "yes")
    assert routed is not None
    assert routed.text == f"Approved {asked.confirmation.ref}."
    assert routed.element is not None
    assert routed.element.get("outcome") == "approved"
    assert audit.last("confirm.answered")["channel"] == "direct_chat"
    # A slash command is always about confirmations, even with nothing waiting.
    nothing = r.route_text(ALICE, "/approve")
    assert nothing is not None
    assert nothing.text == "Nothing is waiting for your confirmation."


def test_a_room_line_never_counts(routing: Routing) -> None:
    r, service, audit = routing
    asked = ask(service, approvers=[BOB])
    assert r.route_text(ALICE, "yes", room=True) is None  # nothing asked of Alice: chat
    assert r.route_text(BOB, "/approve", room=True) is not None  # a command: refused
    assert r.route_text(BOB, "/approve x y z", room=True) is None  # unclear: chat, not a hint
    routed = r.route_text(BOB, "yes", room=True)
    assert routed is not None
    assert routed.element is not None
    assert routed.element.get("outcome") == "refused-channel"
    structured = Reply(decision=Decision.YES, channel=Channel.ROOM,
                       target=Target(id=asked.confirmation.id))  # fmt: skip
    assert r.answer(BOB, structured).outcome is Outcome.REFUSED_CHANNEL
    assert audit.names().count("confirm.answer_refused") == 3
    assert r.pending(BOB)[0].state.value == "pending"
