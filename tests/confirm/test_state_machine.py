"""Property test of the whole state machine, restarts included.

Hypothesis drives random sequences of ask / answer (any JID, any channel, by id, by ref or
plain) / clock moves / restarts (a new service object on the same SQLite file) / claims (with the
right or a wrong digest), and checks against an independent model that:

- an answer changes state only if it comes from an approver, on a counting channel, before
  expiry, as that approver's first answer, while the confirmation is still undecided;
- a claim succeeds only with ``required`` distinct approvals and no "no", given before expiry,
  for the digest that was shown, and at most once per confirmation, across restarts.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from host.confirm import (
    Channel,
    ClaimOutcome,
    Confirmation,
    Decision,
    Outcome,
    Reply,
    Settings,
    Target,
)
from host.confirm.models import CHANGED_STATE, COUNTING_CHANNELS
from tests.confirm.fakes import (
    ALICE,
    BOB,
    CAROL,
    DIGEST,
    MALLORY,
    OTHER_DIGEST,
    ManualClock,
    MemoryAudit,
    ask,
    open_service,
)

APPROVER_POOL = [ALICE, BOB, CAROL]
SETTINGS = Settings(claim_grace_s=30, max_pending_per_requester=100)


@dataclass
class Model:
    """What the test knows about one confirmation, from the outside."""

    confirmation: Confirmation
    yes: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)
    decided: bool = False
    denied: bool = False
    claims: int = 0


class ConfirmationMachine(RuleBasedStateMachine):
    confirmations = Bundle("confirmations")

    def __init__(self) -> None:
        super().__init__()
        # Durability is not what this test checks: on tmpfs the fsync of every commit is free.
        shm = Path("/dev/shm")
        self._dir = tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None)
        self.path = Path(self._dir.name) / "confirm.sqlite"
        self.clock = ManualClock()
        self.audit = MemoryAudit()
        self.service = open_service(self.path, self.clock, self.audit, SETTINGS)
        self.models: dict[str, Model] = {}

    def teardown(self) -> None:
        self.service.store.close()
        self._dir.cleanup()

    @initialize(target=confirmations)
    def first(self) -> str:
        return self.ask({ALICE, BOB}, 2, 300)

    @rule(
        target=confirmations,
        approvers=st.sets(st.sampled_from(APPROVER_POOL), min_size=1),
        required=st.integers(1, 3),
        expiry=st.integers(10, 600),
    )
    def ask(self, approvers: set[str], required: int, expiry: int) -> str:
        required = min(required, len(approvers))
        c = ask(
            self.service, approvers=sorted(approvers), required=required, expires_in_s=expiry
        ).confirmation
        self.models[c.id] = Model(c)
        return c.id

    @rule(
        cid=confirmations,
        jid=st.sampled_from([*APPROVER_POOL, MALLORY]),
        decision=st.sampled_from(Decision),
        # Half the draws from the counting channels, so that approvals actually happen.
        channel=st.one_of(st.sampled_from(sorted(COUNTING_CHANNELS)), st.sampled_from(Channel)),
        how=st.sampled_from(["id", "ref", "plain"]),
    )
    def answer(self, cid: str, jid: str, decision: Decision, channel: Channel, how: str) -> None:
        c = self.models[cid].confirmation
        target = {"id": Target(id=c.id), "ref": Target(ref=c.ref), "plain": Target()}[how]
        now = self.clock.now
        result = self.service.answer(jid, Reply(decision=decision, channel=channel, target=target))
        event(f"answer {result.outcome.value}")
        if result.outcome not in CHANGED_STATE:
            return
        assert result.confirmation is not None
        m = self.models[result.confirmation.id]
        assert jid in m.confirmation.approvers
        assert channel in COUNTING_CHANNELS
        assert now < m.confirmation.expires_at
        assert jid not in m.answered
        assert not m.decided
        m.answered.add(jid)
        if decision is Decision.YES:
            m.yes.add(jid)
        else:
            m.denied = True
        assert result.outcome is (
            Outcome.DENIED
            if m.denied
            else Outcome.APPROVED
            if len(m.yes) >= m.confirmation.required
            else Outcome.ACCEPTED
        )
        m.decided = result.outcome is not Outcome.ACCEPTED

    @rule(
        cid=confirmations,
        channel=st.sampled_from(sorted(COUNTING_CHANNELS)),
        right=st.booleans(),
    )
    def everyone_says_yes_then_claim(self, cid: str, channel: Channel, right: bool) -> None:
        """The happy path, so that claims of approved confirmations get exercised too."""
        for jid in sorted(self.models[cid].confirmation.approvers):
            self.answer(cid, jid, Decision.YES, channel, "id")
        self.claim(cid, right)

    @rule(seconds=st.one_of(st.integers(0, 20), st.integers(0, 400)))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def restart(self) -> None:
        self.service.store.close()
        self.service = open_service(self.path, self.clock, self.audit, SETTINGS)

    @rule()
    def sweep(self) -> None:
        for c in self.service.sweep():
            assert self.clock.now >= c.expires_at

    @rule(cid=confirmations)
    def withdraw(self, cid: str) -> None:
        m = self.models[cid]
        if self.service.withdraw(cid, "test"):
            assert m.claims == 0
            m.denied = m.decided = True

    @rule(cid=confirmations, right=st.booleans())
    def claim(self, cid: str, right: bool) -> None:
        m = self.models[cid]
        outcome = self.service.claim(cid, DIGEST if right else OTHER_DIGEST)
        event(f"claim {outcome.value}")
        if outcome is not ClaimOutcome.CLAIMED:
            return
        assert right
        assert not m.denied
        assert len(m.yes) >= m.confirmation.required
        assert m.yes <= m.confirmation.approvers
        deadline = m.confirmation.expires_at + timedelta(seconds=SETTINGS.claim_grace_s)
        assert self.clock.now < deadline
        assert m.claims == 0
        m.claims += 1

    @invariant()
    def stored_answers_all_count(self) -> None:
        for cid, m in self.models.items():
            stored = self.service.store.get(cid)
            assert stored is not None
            assert {a.approver for a in stored.answers} == m.answered
            for a in stored.answers:
                assert a.channel in COUNTING_CHANNELS
                assert a.answered_at < stored.expires_at
            assert (stored.claimed_at is not None) == (m.claims == 1)


ConfirmationMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None
)
test_confirmation_state_machine = ConfirmationMachine.TestCase
