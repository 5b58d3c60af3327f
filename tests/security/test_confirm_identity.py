"""Attacks on who may approve: only an approver's own bare JID counts (T-CNF-01, -02, -03)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from host.confirm import (
    Channel,
    ClaimOutcome,
    ConfirmationService,
    Decision,
    Outcome,
    Reply,
    State,
    Target,
    parse_confirm_response,
    parse_text,
)
from host.confirm.elements import confirm_result, serialize
from host.errors import ConfirmError
from tests.confirm.fakes import ALICE, BOB, DIGEST, MALLORY, ManualClock, MemoryAudit, ask
from tests.confirm.fakes import open_service as _open

ROOM = "lobby@conference.example.org"


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def service(tmp_path: Path, audit: MemoryAudit) -> ConfirmationService:
    return _open(tmp_path / "confirm.sqlite", ManualClock(), audit)


def structured(cid: str, answer: str = "yes") -> Reply:
    element = ET.Element(
        "{urn:fluux:agent:0#confirm}confirm-response", {"id": cid, "answer": answer}
    )
    return parse_confirm_response(element)


def test_confirm_wrong_jid_cannot_approve(service: ConfirmationService, audit: MemoryAudit) -> None:
    c = ask(service).confirmation
    result = service.answer(
        MALLORY, Reply(decision=Decision.YES, channel=Channel.COMMAND, target=Target(ref=c.ref))
    )
    assert result.outcome is Outcome.NOT_APPROVER
    assert result.reply_text == f"No confirmation {c.ref} is waiting for you."
    assert service.get(c.id).state is State.PENDING  # type: ignore[union-attr]
    assert service.claim(c.id, DIGEST) is ClaimOutcome.NOT_APPROVED
    assert audit.last("confirm.answer_refused")["by"] == MALLORY


def test_confirm_lookalike_jid_is_another_person(service: ConfirmationService) -> None:
    c = ask(service).confirmation
    cyrillic_a = "\u0430lice@example.org"  # looks like alice@example.org
    result = service.answer(cyrillic_a, structured(c.id))
    assert result.outcome is Outcome.NOT_APPROVER
    assert service.get(c.id).state is State.PENDING  # type: ignore[union-attr]


def test_confirm_full_jid_from_the_edge_is_refused(service: ConfirmationService) -> None:
    c = ask(service).confirmation
    with pytest.raises(ConfirmError, match="expected a bare JID"):
        service.answer(f"{ALICE}/evil", structured(c.id))
    assert service.get(c.id).state is State.PENDING  # type: ignore[union-attr]


def test_confirm_room_occupant_cannot_approve(service: ConfirmationService) -> None:
    c = ask(service, approvers=[ALICE, BOB], required=1).confirmation
    # A groupchat "yes": the edge labels it room; even Alice's own words in a room do not count.
    in_room = parse_text(f"/approve {c.ref}", channel=Channel.ROOM)
    assert isinstance(in_room, Reply)
    assert service.answer(ALICE, in_room).outcome is Outcome.REFUSED_CHANNEL
    # The room's own bare JID (what a MUC stanza's from reduces to) is never an approver.
    assert service.answer(ROOM, structured(c.id)).outcome is Outcome.NOT_APPROVER
    assert service.get(c.id).state is State.PENDING  # type: ignore[union-attr]


def test_confirm_forged_structured_reply_with_unknown_id(service: ConfirmationService) -> None:
    ask(service)
    result = service.answer(ALICE, structured("f" * 32))
    assert result.outcome is Outcome.UNKNOWN
    assert result.reply_text == f"No confirmation {'f' * 32} is waiting for you."


def test_confirm_forged_structured_reply_for_someone_elses_confirmation(
    service: ConfirmationService,
) -> None:
    bobs = ask(service, requester=BOB, approvers=[BOB], request_id="req-bob").confirmation
    ask(service)  # Alice has her own pending confirmation
    result = service.answer(ALICE, structured(bobs.id))
    assert result.outcome is Outcome.NOT_APPROVER
    # Same words as an unknown id: the reply is no oracle for which ids exist.
    assert result.reply_text == f"No confirmation {bobs.id} is waiting for you."
    assert service.claim(bobs.id, DIGEST) is ClaimOutcome.NOT_APPROVED


def test_confirm_result_element_reveals_nothing_to_non_approvers(
    service: ConfirmationService,
) -> None:
    bobs = ask(service, requester=BOB, approvers=[BOB], request_id="req-bob").confirmation
    probe = service.answer(MALLORY, structured(bobs.id))
    element = confirm_result(probe)
    assert element.attrib == {"outcome": "unknown"}
    assert bobs.id not in serialize(element)
