"""Attacks on N-of-M and on plain answers: distinct people, one clear target (T-CNF-10, -11,
-12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.confirm import (
    Channel,
    ClaimOutcome,
    Decision,
    Outcome,
    Reply,
    State,
    Target,
)
from host.errors import AuditError, ConfirmError
from tests.confirm.fakes import (
    ALICE,
    BOB,
    CAROL,
    DIGEST,
    ManualClock,
    MemoryAudit,
    ask,
    open_service,
)


def test_confirm_same_approver_twice_is_one_approval(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "c.sqlite", ManualClock())
    c = ask(svc, approvers=[ALICE, BOB, CAROL], required=2).confirmation
    first = Reply(decision=Decision.YES, channel=Channel.COMMAND, target=Target(ref=c.ref))
    assert svc.answer(ALICE, first).outcome is Outcome.ACCEPTED
    # Alice again, on every other channel, with her JID spelled differently.
    for channel in (Channel.STRUCTURED, Channel.FORM, Channel.COMMAND):
        again = Reply(decision=Decision.YES, channel=channel, target=Target(id=c.id))
        result = svc.answer("ALICE@Example.org", again)
        assert result.outcome is Outcome.ALREADY_ANSWERED
    assert svc.get(c.id).yes_count() == 1  # type: ignore[union-attr]
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.NOT_APPROVED
    assert svc.answer(BOB, first).outcome is Outcome.APPROVED
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.CLAIMED


def test_confirm_two_pending_and_a_plain_yes_asks_which(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "c.sqlite", ManualClock())
    a = ask(svc, summary="Delete a.txt").confirmation
    b = ask(svc, summary="Delete b.txt", request_id="req-2").confirmation
    result = svc.answer(ALICE, Reply(decision=Decision.YES, channel=Channel.DIRECT_CHAT))
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.candidates == (a.ref, b.ref)
    assert result.reply_text == (
        "Your answer could be meant for more than one confirmation; answer one with /approve REF "
        f"or /deny REF:\n{a.ref}: Delete a.txt (expires 19:00 UTC)\n"
        f"{b.ref}: Delete b.txt (expires 19:00 UTC)"
    )
    assert svc.get(a.id).state is State.PENDING  # type: ignore[union-attr]
    assert svc.get(b.id).state is State.PENDING  # type: ignore[union-attr]


def test_confirm_plain_yes_does_not_slide_to_the_next_confirmation(tmp_path: Path) -> None:
    clock = ManualClock()
    svc = open_service(tmp_path / "c.sqlite", clock)
    meant = ask(svc, summary="Delete a.txt", expires_in_s=60).confirmation
    clock.advance(30)
    other = ask(svc, summary="Delete everything", request_id="req-2").confirmation
    clock.advance(31)  # Alice types "yes" for a.txt just after it expired
    plain = Reply(decision=Decision.YES, channel=Channel.DIRECT_CHAT)
    result = svc.answer(ALICE, plain)
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.candidates == (other.ref, meant.ref)
    assert f"{meant.ref}: Delete a.txt (expired at 18:56 UTC)" in result.reply_text
    assert svc.get(other.id).state is State.PENDING  # type: ignore[union-attr]


def test_confirm_plain_yes_does_not_slide_after_another_approver_decided(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "c.sqlite", ManualClock())
    shared = ask(svc, approvers=[ALICE, BOB]).confirmation
    other = ask(svc, summary="Delete everything", request_id="req-2").confirmation
    bob = Reply(decision=Decision.YES, channel=Channel.COMMAND, target=Target(ref=shared.ref))
    assert svc.answer(BOB, bob).outcome is Outcome.APPROVED
    result = svc.answer(ALICE, Reply(decision=Decision.YES, channel=Channel.DIRECT_CHAT))
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.candidates == (other.ref, shared.ref)
    assert svc.get(other.id).state is State.PENDING  # type: ignore[union-attr]


def test_confirm_one_no_outweighs_any_yes(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "c.sqlite", ManualClock())
    c = ask(svc, approvers=[ALICE, BOB, CAROL], required=2).confirmation
    target = Target(ref=c.ref)
    assert (
        svc.answer(ALICE, Reply(decision=Decision.YES, channel=Channel.FORM, target=target)).outcome
        is Outcome.ACCEPTED
    )
    assert (
        svc.answer(BOB, Reply(decision=Decision.NO, channel=Channel.FORM, target=target)).outcome
        is Outcome.DENIED
    )
    late = svc.answer(CAROL, Reply(decision=Decision.YES, channel=Channel.FORM, target=target))
    assert late.outcome is Outcome.ALREADY_DECIDED
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.NOT_APPROVED


def test_confirm_unwritable_audit_blocks_approval_and_claim(tmp_path: Path) -> None:
    audit = MemoryAudit()
    svc = open_service(tmp_path / "c.sqlite", ManualClock(), audit)
    c = ask(svc).confirmation
    audit.broken = True
    yes = Reply(decision=Decision.YES, channel=Channel.STRUCTURED, target=Target(id=c.id))
    with pytest.raises(AuditError):
        svc.answer(ALICE, yes)
    assert svc.store.get(c.id).state is State.PENDING  # type: ignore[union-attr]
    audit.broken = False
    svc.answer(ALICE, yes)
    audit.broken = True
    with pytest.raises(AuditError):
        svc.claim(c.id, DIGEST)
    assert svc.store.get(c.id).state is State.APPROVED  # type: ignore[union-attr]


def test_confirm_flood_of_asks_is_refused_past_the_cap(tmp_path: Path) -> None:
    audit = MemoryAudit()
    svc = open_service(tmp_path / "c.sqlite", ManualClock(), audit)
    for i in range(5):
        ask(svc, request_id=f"req-{i}")
    with pytest.raises(ConfirmError, match="already has 5 actions waiting for confirmation"):
        ask(svc, request_id="req-6")
    assert audit.last("confirm.ask_refused") == {
        "requester": ALICE,
        "skill": "fs.delete",
        "pending": 5,
    }
    assert len(svc.pending_for(ALICE)) == 5
    # Another requester is not blocked by Alice's queue.
    assert ask(svc, requester=BOB, approvers=[ALICE], request_id="req-b").confirmation


def test_confirm_answered_or_expired_asks_free_the_queue(tmp_path: Path) -> None:
    clock = ManualClock()
    svc = open_service(tmp_path / "c.sqlite", clock)
    first = ask(svc, request_id="req-0", expires_in_s=60).confirmation
    for i in range(1, 5):
        ask(svc, request_id=f"req-{i}")
    clock.advance(61)  # the first one expires, lazily
    assert ask(svc, request_id="req-5").confirmation
    assert svc.get(first.id).state is State.EXPIRED  # type: ignore[union-attr]
