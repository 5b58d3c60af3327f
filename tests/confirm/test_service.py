"""ConfirmationService: asking, answering, expiry, claiming and waiting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.confirm import (
    Channel,
    ClaimOutcome,
    ConfirmationService,
    ConfirmationStore,
    Decision,
    Outcome,
    Reply,
    Settings,
    State,
    Target,
)
from host.errors import AuditError, ConfigError, ConfirmError
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

YES = Reply(decision=Decision.YES, channel=Channel.DIRECT_CHAT)
NO = Reply(decision=Decision.NO, channel=Channel.DIRECT_CHAT)


def by_ref(ref: str, decision: Decision = Decision.YES) -> Reply:
    return Reply(decision=decision, channel=Channel.COMMAND, target=Target(ref=ref))


def test_ask_stores_a_pending_confirmation_and_prompts_each_approver(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    asked = ask(service, approvers=[BOB, ALICE], required=2, request_id="req-9")
    c = asked.confirmation
    assert c.state is State.PENDING
    assert len(c.id) == 32
    assert c.ref.startswith("action-")
    assert c.approvers == {ALICE, BOB}
    assert (c.expires_at - c.created_at).total_seconds() == 300
    assert [p.to for p in asked.prompts] == [ALICE, BOB]
    assert asked.prompts[0].body == (
        f"Delete notes/2026.md in your workspace? Reply yes or no (or /approve {c.ref}, "
        f"/deny {c.ref}). Needs 2 approvals. Expires 19:00 UTC, ref {c.ref}."
    )
    assert asked.prompts[1].body.startswith(f"{ALICE} asks: Delete notes/2026.md")
    assert audit.names() == ["confirm.asked"]
    assert audit.events[0][1] == "req-9"
    assert audit.last("confirm.asked")["approvers"] == [ALICE, BOB]
    assert service.get(c.id) == c


def test_ask_normalises_approver_jids(service: ConfirmationService) -> None:
    c = ask(service, approvers=["Alice@Example.ORG", ALICE]).confirmation
    assert c.approvers == {ALICE}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"approvers": []}, "approver set is empty"),
        ({"approvers": [ALICE], "required": 2}, "2 approvals required but only 1 approvers"),
        ({"approvers": ["alice@example.org/phone"]}, "expected a bare JID"),
        ({"approvers": ["example.org"]}, "got a bare domain"),
        ({"summary": "\n\t "}, "the action summary is empty"),
        ({"required": 0}, "required"),
        ({"risk": "catastrophic"}, "risk"),
    ],
)
def test_ask_refuses_invalid_requests(
    service: ConfirmationService, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfirmError, match=message):
        ask(service, **overrides)


def test_ask_refuses_more_approvers_than_the_limit(db: Path, clock: ManualClock) -> None:
    svc = open_service(db, clock, settings=Settings(max_approvers=2))
    with pytest.raises(ConfirmError, match="3 approvers is more than the limit of 2"):
        ask(svc, approvers=[ALICE, BOB, CAROL])


def test_expiry_is_capped_and_the_audit_says_so(
    db: Path, clock: ManualClock, audit: MemoryAudit
) -> None:
    svc = open_service(db, clock, audit, Settings(default_expiry_s=60, max_expiry_s=600))
    c = ask(svc, expires_in_s=7200).confirmation
    assert (c.expires_at - c.created_at).total_seconds() == 600
    assert audit.last("confirm.asked")["expiry_capped"] is True


def test_settings_refuse_a_default_beyond_the_cap() -> None:
    with pytest.raises(ValueError, match="default_expiry_s must not exceed max_expiry_s"):
        Settings(default_expiry_s=700, max_expiry_s=600)


def test_single_approver_yes_approves_and_claims_once(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    c = ask(service).confirmation
    result = service.answer(ALICE, YES)
    assert result.outcome is Outcome.APPROVED
    assert result.reply_text == f"Approved {c.ref}."
    assert service.claim(c.id, DIGEST) is ClaimOutcome.CLAIMED
    assert service.claim(c.id, DIGEST) is ClaimOutcome.ALREADY_CLAIMED
    assert service.get(c.id).state is State.EXECUTED  # type: ignore[union-attr]
    assert audit.names() == [
        "confirm.asked",
        "confirm.answered",
        "confirm.claimed",
        "confirm.claim_refused",
    ]
    assert audit.last("confirm.claim_refused")["reason"] == "already_claimed"


def test_two_of_three_needs_two_distinct_yes(service: ConfirmationService) -> None:
    c = ask(service, approvers=[ALICE, BOB, CAROL], required=2).confirmation
    first = service.answer(ALICE, by_ref(c.ref))
    assert first.outcome is Outcome.ACCEPTED
    assert first.reply_text == f"Noted your yes for {c.ref}; waiting for 1 more approval(s)."
    assert service.claim(c.id, DIGEST) is ClaimOutcome.NOT_APPROVED
    second = service.answer(BOB, by_ref(c.ref))
    assert second.outcome is Outcome.APPROVED
    assert second.confirmation is not None
    assert second.confirmation.yes_count() == 2
    third = service.answer(CAROL, by_ref(c.ref))
    assert third.outcome is Outcome.ALREADY_DECIDED
    assert service.claim(c.id, DIGEST) is ClaimOutcome.CLAIMED


def test_one_no_denies_even_after_a_yes(service: ConfirmationService) -> None:
    c = ask(service, approvers=[ALICE, BOB, CAROL], required=2).confirmation
    assert service.answer(ALICE, by_ref(c.ref)).outcome is Outcome.ACCEPTED
    result = service.answer(BOB, by_ref(c.ref, Decision.NO))
    assert result.outcome is Outcome.DENIED
    assert result.reply_text == f"Denied {c.ref}; it will not run."
    assert service.answer(CAROL, by_ref(c.ref)).outcome is Outcome.ALREADY_DECIDED
    assert service.claim(c.id, DIGEST) is ClaimOutcome.NOT_APPROVED


def test_answer_by_structured_id(service: ConfirmationService) -> None:
    c = ask(service).confirmation
    reply = Reply(decision=Decision.NO, channel=Channel.STRUCTURED, target=Target(id=c.id))
    assert service.answer(ALICE, reply).outcome is Outcome.DENIED


def test_plain_answer_with_nothing_pending_is_conversation_and_not_audited(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    result = service.answer(ALICE, YES)
    assert result.outcome is Outcome.NOTHING_PENDING
    assert result.reply_text == "Nothing is waiting for your confirmation."
    assert audit.events == []


def test_pending_expires_lazily_on_read_and_answer_says_expired(
    service: ConfirmationService, clock: ManualClock, audit: MemoryAudit
) -> None:
    c = ask(service).confirmation
    clock.advance(300)
    result = service.answer(ALICE, by_ref(c.ref))
    assert result.outcome is Outcome.EXPIRED
    assert result.reply_text == f"{c.ref} expired at 19:00 UTC; nothing was done."
    assert audit.names()[-2:] == ["confirm.expired", "confirm.answer_refused"]
    assert service.claim(c.id, DIGEST) is ClaimOutcome.EXPIRED


def test_approved_but_unclaimed_expires_after_the_grace(
    service: ConfirmationService, clock: ManualClock
) -> None:
    c = ask(service).confirmation
    clock.advance(299)
    assert service.answer(ALICE, YES).outcome is Outcome.APPROVED
    clock.advance(60)  # past expiry, inside the 60 s claim grace
    assert service.get(c.id).state is State.APPROVED  # type: ignore[union-attr]
    clock.advance(1)
    assert service.claim(c.id, DIGEST) is ClaimOutcome.EXPIRED


def test_sweep_expires_everything_due_and_nothing_else(
    service: ConfirmationService, clock: ManualClock, audit: MemoryAudit
) -> None:
    old = ask(service, expires_in_s=60).confirmation
    new = ask(service, expires_in_s=600).confirmation
    clock.advance(61)
    assert [c.id for c in service.sweep()] == [old.id]
    assert service.get(new.id).state is State.PENDING  # type: ignore[union-attr]
    assert service.sweep() == []
    assert audit.names().count("confirm.expired") == 1


def test_pending_for_lists_only_what_the_approver_can_still_answer(
    service: ConfirmationService,
) -> None:
    a = ask(service, approvers=[ALICE, BOB], required=2).confirmation
    b = ask(service, approvers=[BOB]).confirmation
    assert [c.ref for c in service.pending_for(BOB)] == [a.ref, b.ref]
    service.answer(BOB, by_ref(a.ref))
    assert [c.ref for c in service.pending_for(BOB)] == [b.ref]
    assert [c.ref for c in service.pending_for(ALICE)] == [a.ref]
    assert service.pending_text(CAROL) == "Nothing is waiting for your confirmation."
    assert service.pending_text(ALICE) == (
        f"{a.ref}: Delete notes/2026.md in your workspace (expires 19:00 UTC)"
    )


def test_answer_refuses_a_full_jid_from_the_edge(service: ConfirmationService) -> None:
    ask(service)
    with pytest.raises(ConfirmError, match="expected a bare JID"):
        service.answer("alice@example.org/phone", YES)


def test_audit_failure_on_answer_changes_nothing(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    c = ask(service).confirmation
    audit.broken = True
    with pytest.raises(AuditError):
        service.answer(ALICE, YES)
    audit.broken = False
    assert service.get(c.id).state is State.PENDING  # type: ignore[union-attr]
    assert service.get(c.id).answers == ()  # type: ignore[union-attr]


def test_audit_failure_on_claim_leaves_it_unclaimed(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    c = ask(service).confirmation
    service.answer(ALICE, YES)
    audit.broken = True
    with pytest.raises(AuditError):
        service.claim(c.id, DIGEST)
    audit.broken = False
    assert service.claim(c.id, DIGEST) is ClaimOutcome.CLAIMED


def test_audit_failure_on_ask_stores_nothing(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    audit.broken = True
    with pytest.raises(AuditError):
        ask(service)
    audit.broken = False
    assert service.pending_for(ALICE) == []


def test_wait_resolves_when_answered(db: Path, clock: ManualClock) -> None:
    svc = open_service(db, clock)
    c = ask(svc).confirmation

    async def flow() -> State:
        waiter = asyncio.create_task(svc.wait(c.id))
        await asyncio.sleep(0)
        svc.answer(ALICE, YES)
        return await asyncio.wait_for(waiter, timeout=5)

    assert asyncio.run(flow()) is State.APPROVED


def test_wait_sees_an_answer_taken_by_another_process(db: Path, clock: ManualClock) -> None:
    fast = Settings(poll_interval_s=0.01)
    waiting, other = open_service(db, clock, settings=fast), open_service(db, clock)
    c = ask(waiting).confirmation

    async def flow() -> State:
        waiter = asyncio.create_task(waiting.wait(c.id))
        await asyncio.sleep(0.02)
        other.answer(
            ALICE, Reply(decision=Decision.NO, channel=Channel.FORM, target=Target(id=c.id))
        )
        return await asyncio.wait_for(waiter, timeout=5)

    assert asyncio.run(flow()) is State.DENIED


def test_wait_resolves_expired_when_time_runs_out(db: Path, clock: ManualClock) -> None:
    svc = open_service(db, clock, settings=Settings(poll_interval_s=0.01))
    c = ask(svc).confirmation

    async def flow() -> State:
        waiter = asyncio.create_task(svc.wait(c.id))
        await asyncio.sleep(0.02)
        clock.advance(301)
        return await asyncio.wait_for(waiter, timeout=5)

    assert asyncio.run(flow()) is State.EXPIRED


def test_wait_on_an_unknown_id_raises(service: ConfirmationService) -> None:
    with pytest.raises(ConfirmError, match="no confirmation with id"):
        asyncio.run(service.wait("0" * 32))


def test_withdraw_denies_pending_and_approved_but_not_executed(
    service: ConfirmationService, audit: MemoryAudit
) -> None:
    pending = ask(service).confirmation
    approved = ask(service, approvers=[BOB]).confirmation
    executed = ask(service, approvers=[CAROL]).confirmation
    service.answer(BOB, by_ref(approved.ref))
    service.answer(CAROL, by_ref(executed.ref))
    assert service.claim(executed.id, DIGEST) is ClaimOutcome.CLAIMED
    assert service.withdraw(pending.id, "user started a new session") is True
    assert service.withdraw(approved.id, "host restarted") is True
    assert service.withdraw(executed.id, "too late") is False
    assert service.withdraw("0" * 32, "unknown") is False
    assert service.claim(approved.id, DIGEST) is ClaimOutcome.NOT_APPROVED
    assert service.answer(ALICE, by_ref(pending.ref)).outcome is Outcome.ALREADY_DECIDED
    assert audit.last("confirm.withdrawn") == {
        "id": approved.id,
        "ref": approved.ref,
        "was": "approved",
        "reason": "host restarted",
    }


def test_unfinished_lists_what_was_in_flight_after_a_restart(db: Path, clock: ManualClock) -> None:
    before = open_service(db, clock)
    waiting = ask(before).confirmation
    approved = ask(before, approvers=[BOB]).confirmation
    done = ask(before, approvers=[CAROL]).confirmation
    stale = ask(before, expires_in_s=30).confirmation
    before.answer(BOB, by_ref(approved.ref))
    before.answer(CAROL, by_ref(done.ref))
    before.claim(done.id, DIGEST)
    before.store.close()
    clock.advance(31)
    after = open_service(db, clock)
    assert [c.id for c in after.unfinished()] == [waiting.id, approved.id]
    assert after.get(stale.id).state is State.EXPIRED  # type: ignore[union-attr]


def test_store_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfirmError, match="cannot open the confirmation store"):
        ConfirmationStore(tmp_path / "missing" / "confirm.sqlite")


def test_late_plain_yes_is_told_it_expired_then_becomes_chat(
    service: ConfirmationService, clock: ManualClock
) -> None:
    c = ask(service).confirmation
    clock.advance(300 + 119)  # expired 119 s ago: within the 120 s plain-answer window
    late = service.answer(ALICE, YES)
    assert late.outcome is Outcome.EXPIRED
    assert late.reply_text == f"{c.ref} expired at 19:00 UTC; nothing was done."
    clock.advance(2)
    assert service.answer(ALICE, YES).outcome is Outcome.NOTHING_PENDING


def test_settings_from_the_deployers_table() -> None:
    assert Settings.from_config({"default_expiry_s": 120}).default_expiry_s == 120
    with pytest.raises(ConfigError, match=r"\[confirm\] max_expiry_s: Input should be less"):
        Settings.from_config({"max_expiry_s": 10**9})
    with pytest.raises(ConfigError, match=r"\[confirm\] unlimited: Extra inputs are not"):
        Settings.from_config({"unlimited": True})
    with pytest.raises(ConfigError, match="default_expiry_s must not exceed max_expiry_s"):
        Settings.from_config({"default_expiry_s": 700, "max_expiry_s": 600})
