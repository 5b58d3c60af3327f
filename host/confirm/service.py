"""The confirmation core: ask approvers, take their answers, hand out one execution claim.

The pipeline calls :meth:`ConfirmationService.ask` when policy says ``confirm``, sends the
returned prompts, awaits :meth:`~ConfirmationService.wait`, and on ``approved`` calls
:meth:`~ConfirmationService.claim` with the digest of what it is about to run; only
``ClaimOutcome.CLAIMED`` lets it run. The XMPP edge parses each incoming reply with
:mod:`host.confirm.answers` and passes it to :meth:`~ConfirmationService.answer` with the
stanza's verified bare ``from``, then sends back ``reply_text``.

Rules enforced here, whatever the edge does:

- Only an approver's own bare JID, on a counting channel (direct chat, structured element,
  form, command), counts. Group chat, model output and skill output never do.
- N-of-M counts distinct JIDs; an approver answering twice changes nothing.
- One "no" from any approver denies at once: a person who saw the action and refused it is not
  outvoted. Silence is not consent: an unanswered confirmation expires, and expired means no.
- Approval is single-use: ``claim`` succeeds once, for the exact action digest that was shown.

Every step is written to the audit sink inside the store transaction, before it commits
(write-ahead): if the audit log cannot be written, nothing changes and AuditError propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from host.audit.sink import AuditSink, JsonValue
from host.confirm import wording
from host.confirm.asking import (
    Asked,
    AskRequest,
    expiry_seconds,
    new_confirmation,
    new_ref,
    parse_ask,
    prompts_for,
)
from host.confirm.elements import iso
from host.confirm.models import (
    COUNTING_CHANNELS,
    AnswerRecord,
    AnswerResult,
    ClaimOutcome,
    Confirmation,
    Decision,
    Outcome,
    Reply,
    Risk,
    Settings,
    State,
    bare_jid,
)
from host.confirm.store import ConfirmationStore, StoreTx
from host.errors import ConfirmError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class ConfirmationService:
    """Transport-independent human confirmation over a :class:`ConfirmationStore`.

    Several services (in several processes) may share one store file; the store serialises
    them. ``wait`` is woken at once by answers taken through this object and notices the
    others' by re-reading the store every ``settings.poll_interval_s``. Call ``answer`` and
    ``wait`` from the same event loop thread.
    """

    def __init__(
        self,
        store: ConfirmationStore,
        audit: AuditSink,
        *,
        settings: Settings | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._audit = audit
        self.settings = settings or Settings()
        self._clock = clock
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @property
    def store(self) -> ConfirmationStore:
        """The store this service works on (the caller that opened it closes it)."""
        return self._store

    # -- asking ---------------------------------------------------------------------------

    def ask(
        self,
        *,
        request_id: str,
        skill: str,
        summary: str,
        action_digest: str,
        requester: str,
        approvers: Iterable[str],
        required: int = 1,
        risk: Risk | str = Risk.HIGH,
        expires_in_s: int | None = None,
    ) -> Asked:
        """Store a new pending confirmation and return the prompts to send, one per approver.

        ``summary`` says in words what will happen ("Delete notes/2026.md in your workspace");
        ``action_digest`` binds the exact action and grant; ``approvers`` are bare JIDs, of
        which ``required`` distinct ones must say yes (the requester alone: ``{requester}``,
        1). The expiry is ``expires_in_s`` (the policy's) or ``settings.default_expiry_s``, cut
        to ``settings.max_expiry_s`` (the audit says when). Raises ConfirmError if any value
        is invalid, AuditError if the ask cannot be audited (then nothing is stored).
        """
        req = parse_ask(
            {
                "request_id": request_id,
                "skill": skill,
                "summary": summary,
                "action_digest": action_digest,
                "requester": requester,
                "approvers": frozenset(approvers),
                "required": required,
                "risk": risk,
                "expires_in_s": expires_in_s,
            },
            self.settings,
        )
        expiry_s, capped = expiry_seconds(req, self.settings)
        text = wording.clean_summary(req.summary, self.settings.max_summary_chars)
        now = self._now()
        with self._store.transaction() as tx:
            self._refuse_if_flooded(tx, req, now)
            c = new_confirmation(req, ref=new_ref(tx), summary=text, now=now, expiry_s=expiry_s)
            tx.insert(c)
            self._record(
                "confirm.asked",
                c,
                {
                    "summary": c.summary,
                    "skill": c.skill,
                    "action_digest": c.action_digest,
                    "requester": c.requester,
                    "approvers": [jid for jid in sorted(c.approvers)],
                    "required": c.required,
                    "risk": c.risk.value,
                    "expires_at": iso(c.expires_at),
                    "expiry_capped": capped,
                },
            )
        return Asked(confirmation=c, prompts=prompts_for(c, req))

    def _refuse_if_flooded(self, tx: StoreTx, req: AskRequest, now: datetime) -> None:
        cap = self.settings.max_pending_per_requester
        waiting = 0
        for cid in tx.pending_ids_requested_by(req.requester):
            found = tx.get(cid)
            if found is not None and self._expire_if_due(tx, found, now).state is State.PENDING:
                waiting += 1
        if waiting >= cap:
            self._audit.record(
                "confirm.ask_refused",
                request_id=req.request_id,
                data={"requester": req.requester, "skill": req.skill, "pending": waiting},
            )
            raise ConfirmError(
                f"{req.requester} already has {waiting} actions waiting for confirmation "
                f"(the limit is {cap})",
                hint="answer the waiting confirmations, or let them expire, then ask again",
            )

    # -- answering ------------------------------------------------------------------------

    def answer(self, from_jid: str, reply: Reply) -> AnswerResult:
        """Apply ``reply`` from ``from_jid`` (the stanza's verified bare JID).

        Returns the outcome and the sentence to send back. Refusals are audited too, as
        ``confirm.answer_refused``, so an auditor sees every attempt, except ``nothing_pending``:
        a plain "yes" when nothing waits for the sender is not about a confirmation at all (it
        usually answers the agent's own question), so the edge passes it on to the conversation
        and the audit log is not filled with chat.
        """
        jid = self._bare(from_jid)
        with self._store.transaction() as tx:
            result = self._answer(tx, jid, reply)
        if result.confirmation is not None and result.outcome in (
            Outcome.APPROVED,
            Outcome.DENIED,
            Outcome.EXPIRED,
        ):
            self._notify(result.confirmation.id)
        return result

    def _answer(self, tx: StoreTx, jid: str, reply: Reply) -> AnswerResult:
        now = self._now()
        asked_for = reply.target.ref or reply.target.id or "(the only pending one)"

        def refuse(outcome: Outcome, text: str, c: Confirmation | None = None) -> AnswerResult:
            data: dict[str, JsonValue] = {
                "by": jid,
                "decision": reply.decision.value,
                "channel": reply.channel.value,
                "outcome": outcome.value,
                "target": asked_for,
            }
            self._record("confirm.answer_refused", c, data)
            return AnswerResult(outcome=outcome, reply_text=text, confirmation=c)

        if reply.channel not in COUNTING_CHANNELS:
            return refuse(Outcome.REFUSED_CHANNEL, wording.REFUSED_CHANNEL)
        if reply.target.id is not None:
            found = tx.get(reply.target.id)
        elif reply.target.ref is not None:
            found = tx.get_by_ref(reply.target.ref)
        else:
            # A plain answer binds only when exactly one confirmation can be the one meant:
            # those waiting for this approver, and those that closed for them just now.
            window = timedelta(seconds=self.settings.plain_answer_window_s)
            live = self._pending_for(tx, jid, now)
            recent = [tx.get(cid) for cid in tx.closed_ids_for(jid, now - window)]
            meant = [*live, *(c for c in recent if c is not None)]
            if not meant:
                return AnswerResult(
                    outcome=Outcome.NOTHING_PENDING, reply_text=wording.NOTHING_PENDING
                )
            if len(meant) > 1:
                result = refuse(Outcome.AMBIGUOUS, wording.ambiguous(meant))
                return result.model_copy(update={"candidates": tuple(c.ref for c in meant)})
            found = meant[0]
        if found is None:
            return refuse(Outcome.UNKNOWN, wording.not_found(asked_for))
        if jid not in found.approvers:
            return refuse(Outcome.NOT_APPROVER, wording.not_found(asked_for), found)
        c = self._expire_if_due(tx, found, now)
        if c.state is State.EXPIRED:
            return refuse(Outcome.EXPIRED, wording.expired(c), c)
        if c.state is not State.PENDING:
            return refuse(Outcome.ALREADY_DECIDED, wording.already_decided(c), c)
        previous = c.answered_by(jid)
        if previous is not None:
            return refuse(
                Outcome.ALREADY_ANSWERED, wording.already_answered(c, previous.decision), c
            )
        tx.add_answer(
            c.id,
            AnswerRecord(
                approver=jid, decision=reply.decision, channel=reply.channel, answered_at=now
            ),
        )
        if reply.decision is Decision.NO:
            outcome, new_state = Outcome.DENIED, State.DENIED
        elif c.yes_count() + 1 >= c.required:
            outcome, new_state = Outcome.APPROVED, State.APPROVED
        else:
            outcome, new_state = Outcome.ACCEPTED, State.PENDING
        if new_state is not State.PENDING and not tx.decide(c.id, State.PENDING, new_state, now):
            raise ConfirmError(f"internal: {c.ref} changed state inside its own transaction")
        updated = tx.get(c.id)
        assert updated is not None  # we hold the write lock; the row cannot vanish
        self._record(
            "confirm.answered",
            updated,
            {
                "by": jid,
                "decision": reply.decision.value,
                "channel": reply.channel.value,
                "outcome": outcome.value,
                "yes_count": updated.yes_count(),
                "required": updated.required,
            },
        )
        text = {
            Outcome.DENIED: wording.denied,
            Outcome.APPROVED: wording.approved,
            Outcome.ACCEPTED: wording.accepted,
        }[outcome](updated)
        return AnswerResult(outcome=outcome, reply_text=text, confirmation=updated)

    # -- reading --------------------------------------------------------------------------

    def get(self, confirmation_id: str) -> Confirmation | None:
        """The confirmation as it is now (expired first if its time is up)."""
        with self._store.transaction() as tx:
            found = tx.get(confirmation_id)
            if found is None:
                return None
            c = self._expire_if_due(tx, found, self._now())
        if c is not found:
            self._notify(c.id)
        return c

    def pending_for(self, jid: str) -> list[Confirmation]:
        """What ``jid`` can still answer, oldest first (for ``/pending``)."""
        bare = self._bare(jid)
        with self._store.transaction() as tx:
            return self._pending_for(tx, bare, self._now())

    def pending_text(self, jid: str) -> str:
        """The ``/pending`` reply for ``jid``."""
        live = self.pending_for(jid)
        return wording.listing(live) if live else wording.NOTHING_PENDING

    def sweep(self) -> list[Confirmation]:
        """Expire everything whose time is up; returns what expired. Safe to run any time."""
        now = self._now()
        expired = []
        with self._store.transaction() as tx:
            for cid in tx.ids_in_state(State.PENDING, State.APPROVED):
                found = tx.get(cid)
                assert found is not None
                c = self._expire_if_due(tx, found, now)
                if c is not found:
                    expired.append(c)
        for c in expired:
            self._notify(c.id)
        return expired

    def unfinished(self) -> list[Confirmation]:
        """Confirmations still pending, or approved and not yet claimed, oldest first.

        For a host starting up: the requests behind these were in flight when it stopped. It
        either waits on them again (it kept the request) or withdraws them (it did not).
        Anything already due is expired first.
        """
        self.sweep()
        with self._store.transaction() as tx:
            found = [tx.get(cid) for cid in tx.ids_in_state(State.PENDING, State.APPROVED)]
        return [c for c in found if c is not None]

    def withdraw(self, confirmation_id: str, reason: str) -> bool:
        """Deny a pending confirmation on the host's own behalf (the request was abandoned:
        the user started a new session, the host restarted without it). True if it was
        pending; approvals already given are kept in the record but can no longer be used.
        """
        now = self._now()
        with self._store.transaction() as tx:
            found = tx.get(confirmation_id)
            if found is None:
                return False
            c = self._expire_if_due(tx, found, now)
            if c.state not in (State.PENDING, State.APPROVED):
                return False
            if not tx.decide(c.id, c.state, State.DENIED, now):
                raise ConfirmError(f"internal: {c.ref} changed state inside its own transaction")
            self._record("confirm.withdrawn", c, {"was": c.state.value, "reason": reason[:200]})
        self._notify(confirmation_id)
        return True

    def _pending_for(self, tx: StoreTx, jid: str, now: datetime) -> list[Confirmation]:
        live = []
        for cid in tx.pending_ids_for(jid):
            found = tx.get(cid)
            assert found is not None
            if self._expire_if_due(tx, found, now).state is State.PENDING:
                live.append(found)
        return live

    def _expire_if_due(self, tx: StoreTx, c: Confirmation, now: datetime) -> Confirmation:
        """``c``, moved to expired first if its time is up (lazy expiry)."""
        grace = timedelta(seconds=self.settings.claim_grace_s)
        due = (c.state is State.PENDING and now >= c.expires_at) or (
            c.state is State.APPROVED and now >= c.expires_at + grace
        )
        if not due or not tx.decide(c.id, c.state, State.EXPIRED, now):
            return c
        self._record(
            "confirm.expired",
            c,
            {"was": c.state.value, "expires_at": iso(c.expires_at), "yes_count": c.yes_count()},
        )
        updated = tx.get(c.id)
        assert updated is not None
        return updated

    # -- executing ------------------------------------------------------------------------

    def claim(self, confirmation_id: str, action_digest: str) -> ClaimOutcome:
        """Claim an approved confirmation for execution: ``CLAIMED`` at most once, ever.

        ``action_digest`` is the digest of what the pipeline is about to run, computed afresh;
        if it differs from the digest the approvers were shown, the claim is refused (the
        arguments or the grant changed after the prompt). Audited before it commits.
        """
        now = self._now()
        with self._store.transaction() as tx:
            found = tx.get(confirmation_id)
            if found is None:
                outcome = ClaimOutcome.UNKNOWN
                c: Confirmation | None = None
            else:
                c = self._expire_if_due(tx, found, now)
                outcome = self._claimable(c, action_digest)
            if outcome is ClaimOutcome.CLAIMED and c is not None:
                if not tx.claim(c.id, action_digest, now, self.settings.claim_grace_s):
                    raise ConfirmError(f"internal: claim of {c.ref} failed under the lock")
                self._record("confirm.claimed", c, {"action_digest": action_digest})
            else:
                self._record(
                    "confirm.claim_refused",
                    c,
                    {
                        "id": confirmation_id,
                        "action_digest": action_digest,
                        "reason": outcome.value,
                    },
                )
        return outcome

    def claim_for_execution(self, confirmation_id: str, action_digest: str) -> bool:
        """True exactly once for an approved, unexpired confirmation of ``action_digest``."""
        return self.claim(confirmation_id, action_digest) is ClaimOutcome.CLAIMED

    @staticmethod
    def _claimable(c: Confirmation, action_digest: str) -> ClaimOutcome:
        if c.state is State.EXECUTED:
            return ClaimOutcome.ALREADY_CLAIMED
        if c.state is State.EXPIRED:
            return ClaimOutcome.EXPIRED
        if c.state is not State.APPROVED:
            return ClaimOutcome.NOT_APPROVED
        if not secrets.compare_digest(c.action_digest, action_digest):
            return ClaimOutcome.DIGEST_MISMATCH
        return ClaimOutcome.CLAIMED

    # -- waiting --------------------------------------------------------------------------

    async def wait(self, confirmation_id: str) -> State:
        """Resolve when the confirmation is decided: ``approved``, ``denied`` or ``expired``
        (``executed`` if another waiter already claimed it). Approved still needs a claim.

        Each poll is one short SQLite transaction on the loop's thread (milliseconds); raises
        ConfirmError for an unknown id. Cancelling the task stops the wait and nothing else.
        """
        event = asyncio.Event()
        self._waiters.setdefault(confirmation_id, set()).add(event)
        try:
            while True:
                event.clear()
                c = self.get(confirmation_id)
                if c is None:
                    raise ConfirmError(f"no confirmation with id {confirmation_id}")
                if c.state is not State.PENDING:
                    return c.state
                left = (c.expires_at - self._now()).total_seconds()
                timeout = min(self.settings.poll_interval_s, max(left, 0.0))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=timeout)
        finally:
            waiters = self._waiters.get(confirmation_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[confirmation_id]

    def _notify(self, confirmation_id: str) -> None:
        for event in self._waiters.get(confirmation_id, ()):
            event.set()

    # -- helpers --------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ConfirmError("internal: the confirmation clock must return aware UTC times")
        return now

    @staticmethod
    def _bare(jid: str) -> str:
        try:
            return bare_jid(jid)
        except ValueError as exc:
            raise ConfirmError(
                f"{jid!r} is not a usable bare JID: {exc}",
                hint="the XMPP edge must pass the stanza's verified bare from",
            ) from None

    def _record(self, event: str, c: Confirmation | None, data: dict[str, JsonValue]) -> None:
        if c is not None:
            data = {"id": c.id, "ref": c.ref, **data}
        self._audit.record(event, request_id=c.request_id if c else None, data=data)
