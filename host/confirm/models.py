"""The values of the confirmation core: settings, records, replies and outcomes.

Everything that crosses into the core from outside (an approver's reply, the pipeline's request
to ask) is a pydantic model with ``extra="forbid"``, so a field the core does not know about is an
error rather than silently ignored. Records read back from the store are re-validated too: a row
edited by hand into an impossible state (N larger than the approver set, say) fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from slixmpp.jid import JID, InvalidJID

from host.errors import ConfigError

# A structured id is 128 random bits, hex: unguessable, and never reused.
CONFIRMATION_ID = re.compile(r"^[0-9a-f]{32}$")
# A ref is for people to type; it is not a secret (trust rests on the approver's JID).
REF = re.compile(r"^action-[0-9]{4,12}$")


def bare_jid(value: str) -> str:
    """``value`` as a normalised bare user JID (``local@domain``), or ValueError.

    Normalisation (case folding, stringprep) is slixmpp's, so the JID compared here is the one
    the XMPP server routes. A resource is refused rather than stripped: the edge must pass the
    stanza's verified bare ``from``, and a full JID here means it did not.
    """
    try:
        jid = JID(value)
    except InvalidJID as exc:
        raise ValueError(f"not a valid JID: {exc}") from None
    if jid.resource:
        raise ValueError("expected a bare JID (local@domain), got a full JID with a resource")
    if not jid.user:
        raise ValueError("expected a person's JID (local@domain), got a bare domain")
    return str(jid.bare)


BareJid = Annotated[str, AfterValidator(bare_jid)]
ConfirmationId = Annotated[str, Field(pattern=CONFIRMATION_ID.pattern)]
Ref = Annotated[str, Field(pattern=REF.pattern)]


class Decision(StrEnum):
    """What an approver said."""

    YES = "yes"
    NO = "no"


class Risk(StrEnum):
    """How bad the action is if it goes wrong; shown to the approver, set by policy."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class State(StrEnum):
    """Life of a confirmation. Only ``approved`` may become ``executed``, and only once.

    ``pending`` -> ``approved`` | ``denied`` | ``expired``; ``approved`` -> ``executed`` (the
    claim) | ``expired`` (approved, but nobody claimed it in time) | ``denied`` (withdrawn by the
    host, whose request was abandoned). The other states are final.
    """

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    EXECUTED = "executed"


class Channel(StrEnum):
    """Where a reply came from. Only the first four, from an approver's own JID, ever count.

    The edge sets this from the stanza it received; text that came out of the model or out of a
    skill's result is labelled ``model`` or ``tool_output`` wherever it travels, so a "yes" in it
    can never approve anything, even if it names the right ref and the right JID.
    """

    DIRECT_CHAT = "direct_chat"  # plain "yes"/"no" in the approver's one-to-one chat
    STRUCTURED = "structured"  # a <confirm-response/> element
    FORM = "form"  # an XEP-0004 submission, in a message or an XEP-0050 command
    COMMAND = "command"  # "/approve REF" or "/deny REF" in the one-to-one chat
    ROOM = "room"  # anything said in a group chat: occupants are not verified people
    MODEL = "model"
    TOOL_OUTPUT = "tool_output"


COUNTING_CHANNELS = frozenset(
    {Channel.DIRECT_CHAT, Channel.STRUCTURED, Channel.FORM, Channel.COMMAND}
)


class Settings(BaseModel):
    """Limits of the confirmation core. Every one is finite; the defaults say why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Long enough to notice a phone notification, short enough that what the human approves is
    # still the situation the model saw.
    default_expiry_s: Annotated[int, Field(ge=10, le=86_400)] = 300
    # An approval older than this describes a world that has moved on; policy may only shorten.
    max_expiry_s: Annotated[int, Field(ge=10, le=86_400)] = 3_600
    # The waiting pipeline claims within milliseconds of the last yes; the grace only covers a
    # yes that lands in the last seconds before expiry.
    claim_grace_s: Annotated[int, Field(ge=0, le=600)] = 60
    # Each approver gets a message; a policy naming more than this is almost surely a mistake.
    max_approvers: Annotated[int, Field(ge=1, le=256)] = 32
    # Approval fatigue: a model looping or steered by injected text can ask again and again
    # until a tired approver says yes. A person reviews a handful at once; past that, new asks
    # for the same requester are refused until some are answered or expire.
    max_pending_per_requester: Annotated[int, Field(ge=1, le=100)] = 5
    # A prompt is read on a phone; longer summaries are cut (with a visible mark), not refused.
    max_summary_chars: Annotated[int, Field(ge=40, le=4_000)] = 500
    # A plain "yes" binds to the one confirmation waiting for its sender only if no other one
    # closed this recently: the time to read a prompt and type an answer. Otherwise a "yes"
    # meant for one that just expired (or that another approver just decided) would slide
    # onto the next one.
    plain_answer_window_s: Annotated[int, Field(ge=0, le=3_600)] = 120
    # How often wait() re-reads the store, to see answers taken by another process.
    poll_interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0

    @classmethod
    def from_config(cls, table: Mapping[str, object], *, where: str = "[confirm]") -> Settings:
        """Settings from the deployer's ``[confirm]`` table; ConfigError naming the key."""
        try:
            return cls.model_validate(dict(table))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "table"
            raise ConfigError(
                f"{where} {key}: {first['msg']}",
                hint="see the defaults and their reasons in host/confirm/models.py Settings",
            ) from None

    @model_validator(mode="after")
    def _default_within_cap(self) -> Settings:
        if self.default_expiry_s > self.max_expiry_s:
            raise ValueError("default_expiry_s must not exceed max_expiry_s")
        return self


class AnswerRecord(BaseModel):
    """One approver's recorded answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approver: BareJid
    decision: Decision
    channel: Channel
    answered_at: datetime


class Confirmation(BaseModel):
    """One confirmation as stored: what was asked, of whom, and what they said."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ConfirmationId
    ref: Ref
    request_id: Annotated[str, Field(min_length=1, max_length=200)]
    skill: Annotated[str, Field(min_length=1, max_length=200)]
    summary: Annotated[str, Field(min_length=1)]
    prompt: Annotated[str, Field(min_length=1)]
    action_digest: Annotated[str, Field(min_length=1, max_length=200)]
    requester: BareJid
    approvers: frozenset[BareJid]
    required: Annotated[int, Field(ge=1)]
    risk: Risk
    created_at: datetime
    expires_at: datetime
    state: State
    decided_at: datetime | None = None
    claimed_at: datetime | None = None
    answers: tuple[AnswerRecord, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Confirmation:
        if not self.approvers:
            raise ValueError("a confirmation needs at least one approver")
        if self.required > len(self.approvers):
            raise ValueError("required approvals exceed the number of approvers")
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")
        return self

    def yes_count(self) -> int:
        """Distinct approvers who said yes."""
        return len({a.approver for a in self.answers if a.decision is Decision.YES})

    def answered_by(self, jid: str) -> AnswerRecord | None:
        """The answer ``jid`` gave, if any."""
        return next((a for a in self.answers if a.approver == jid), None)


class Target(BaseModel):
    """Which confirmation a reply is about: by structured id, by ref, or (neither) the only one
    pending for that approver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ConfirmationId | None = None
    ref: Ref | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> Target:
        if self.id is not None and self.ref is not None:
            raise ValueError("a reply names a confirmation by id or by ref, not both")
        return self


class Reply(BaseModel):
    """A parsed reply: a decision, its target and the channel it arrived on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Decision
    channel: Channel
    target: Target = Target()


class Outcome(StrEnum):
    """What became of one reply. Only the first three changed anything."""

    ACCEPTED = "accepted"  # counted; more distinct approvals are still needed
    APPROVED = "approved"  # counted, and it completed the approval
    DENIED = "denied"  # a "no": one is enough to deny
    ALREADY_DECIDED = "already_decided"  # approved, denied or executed before this reply
    ALREADY_ANSWERED = "already_answered"  # this approver answered before; N counts people
    EXPIRED = "expired"
    NOT_APPROVER = "not_approver"
    UNKNOWN = "unknown"  # no confirmation with that id or ref
    NOTHING_PENDING = "nothing_pending"  # a bare yes/no, but nothing waits for this approver
    AMBIGUOUS = "ambiguous"  # a bare yes/no, but several wait: which one?
    REFUSED_CHANNEL = "refused_channel"  # model, tool output or group chat: never counts


CHANGED_STATE = frozenset({Outcome.ACCEPTED, Outcome.APPROVED, Outcome.DENIED})


class AnswerResult(BaseModel):
    """The outcome of one reply, the confirmation it touched, and the text to send back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    reply_text: str
    confirmation: Confirmation | None = None
    candidates: tuple[Ref, ...] = ()  # the refs to choose from, when ambiguous


class ClaimOutcome(StrEnum):
    """Why a claim succeeded or was refused."""

    CLAIMED = "claimed"
    DIGEST_MISMATCH = "digest_mismatch"  # the action changed after the prompt was shown
    NOT_APPROVED = "not_approved"  # still pending, or denied
    ALREADY_CLAIMED = "already_claimed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
