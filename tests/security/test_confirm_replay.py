"""Attacks on single use, expiry and binding: replay, late answers, changed actions, restarts
(T-CNF-06 .. T-CNF-09)."""

from __future__ import annotations

from pathlib import Path

from host.confirm import (
    Channel,
    ClaimOutcome,
    Decision,
    Outcome,
    Reply,
    State,
    Target,
)
from tests.confirm.fakes import (
    ALICE,
    DIGEST,
    OTHER_DIGEST,
    ManualClock,
    MemoryAudit,
    ask,
    open_service,
)


def yes(cid: str) -> Reply:
    return Reply(decision=Decision.YES, channel=Channel.STRUCTURED, target=Target(id=cid))


def test_confirm_replayed_yes_after_execution(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "c.sqlite", ManualClock())
    c = ask(svc).confirmation
    assert svc.answer(ALICE, yes(c.id)).outcome is Outcome.APPROVED
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.CLAIMED
    replay = svc.answer(ALICE, yes(c.id))
    assert replay.outcome is Outcome.ALREADY_DECIDED
    assert replay.reply_text == (
        f"{c.ref} was already decided (executed); your answer changes nothing."
    )
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.ALREADY_CLAIMED


def test_confirm_expired_id_cannot_be_approved(tmp_path: Path) -> None:
    clock = ManualClock()
    svc = open_service(tmp_path / "c.sqlite", clock)
    c = ask(svc, expires_in_s=60).confirmation
    clock.advance(60)
    late = svc.answer(ALICE, yes(c.id))
    assert late.outcome is Outcome.EXPIRED
    assert svc.get(c.id).state is State.EXPIRED  # type: ignore[union-attr]
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.EXPIRED


def test_confirm_digest_mismatch_refuses_the_claim(tmp_path: Path) -> None:
    audit = MemoryAudit()
    svc = open_service(tmp_path / "c.sqlite", ManualClock(), audit)
    c = ask(svc).confirmation
    assert svc.answer(ALICE, yes(c.id)).outcome is Outcome.APPROVED
    # The model changed the arguments after the prompt: the pipeline's fresh digest differs.
    assert svc.claim(c.id, OTHER_DIGEST) is ClaimOutcome.DIGEST_MISMATCH
    assert audit.last("confirm.claim_refused")["reason"] == "digest_mismatch"
    assert svc.get(c.id).state is State.APPROVED  # type: ignore[union-attr]
    # What the human approved can still run, once.
    assert svc.claim(c.id, DIGEST) is ClaimOutcome.CLAIMED


def test_confirm_restart_keeps_a_pending_confirmation(tmp_path: Path) -> None:
    db, clock = tmp_path / "c.sqlite", ManualClock()
    before = open_service(db, clock)
    c = ask(before).confirmation
    before.store.close()
    after = open_service(db, clock)  # a new process on the same file
    assert [p.ref for p in after.pending_for(ALICE)] == [c.ref]
    plain = Reply(decision=Decision.YES, channel=Channel.DIRECT_CHAT)
    assert after.answer(ALICE, plain).outcome is Outcome.APPROVED
    assert after.claim_for_execution(c.id, DIGEST) is True
    assert after.claim_for_execution(c.id, DIGEST) is False


def test_confirm_restart_does_not_replay_an_executed_action(tmp_path: Path) -> None:
    db, clock = tmp_path / "c.sqlite", ManualClock()
    before = open_service(db, clock)
    c = ask(before).confirmation
    before.answer(ALICE, yes(c.id))
    assert before.claim_for_execution(c.id, DIGEST) is True
    before.store.close()
    after = open_service(db, clock)
    late = after.answer(ALICE, yes(c.id))
    assert late.outcome is Outcome.ALREADY_DECIDED
    assert after.claim_for_execution(c.id, DIGEST) is False


def test_confirm_restart_in_flight_then_late_yes_after_expiry(tmp_path: Path) -> None:
    db, clock = tmp_path / "c.sqlite", ManualClock()
    before = open_service(db, clock)
    c = ask(before).confirmation
    before.store.close()
    clock.advance(3600)  # the host was down past the expiry
    after = open_service(db, clock)
    late = after.answer(ALICE, yes(c.id))
    assert late.outcome is Outcome.EXPIRED
    assert after.claim_for_execution(c.id, DIGEST) is False


def test_confirm_restart_with_approved_but_unclaimed(tmp_path: Path) -> None:
    db, clock = tmp_path / "c.sqlite", ManualClock()
    before = open_service(db, clock)
    c = ask(before).confirmation
    before.answer(ALICE, yes(c.id))
    before.store.close()  # crashed between the yes and the claim
    clock.advance(400)  # back up after expiry + grace: the stale approval is not honoured
    after = open_service(db, clock)
    assert after.claim(c.id, DIGEST) is ClaimOutcome.EXPIRED
    assert after.get(c.id).state is State.EXPIRED  # type: ignore[union-attr]
