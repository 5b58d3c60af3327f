"""Building a new confirmation from what the pipeline asks, and the prompts that announce it.

Used by :meth:`host.confirm.service.ConfirmationService.ask`; the pipeline passes plain values
(the policy's approver set, N and expiry; the action digest; a summary in words), so the core
depends on no other subsystem.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from xml.etree.ElementTree import Element

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from host.confirm import wording
from host.confirm.elements import confirm_element, confirm_form
from host.confirm.models import BareJid, Confirmation, Risk, Settings, State
from host.confirm.store import StoreTx
from host.errors import ConfirmError

# Refs start at four digits (easy to type) and grow when a length is crowded; never reused.
_REF_DIGITS = range(4, 13)
_REF_TRIES_PER_LENGTH = 8


class AskRequest(BaseModel):
    """What the pipeline asks, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Annotated[str, Field(min_length=1, max_length=200)]
    skill: Annotated[str, Field(min_length=1, max_length=200)]
    summary: Annotated[str, Field(min_length=1, max_length=20_000)]
    action_digest: Annotated[str, Field(min_length=1, max_length=200)]
    requester: BareJid
    approvers: frozenset[BareJid]
    required: Annotated[int, Field(ge=1)] = 1
    risk: Risk = Risk.HIGH
    expires_in_s: Annotated[int, Field(ge=1)] | None = None


@dataclass(frozen=True)
class Prompt:
    """One message to send to one approver: a plain body for any client, plus the
    ``<confirm/>`` element and the XEP-0004 form for clients that understand them."""

    to: str
    body: str
    confirm: Element
    form: Element


@dataclass(frozen=True)
class Asked:
    """The new confirmation and the prompts to send, one per approver."""

    confirmation: Confirmation
    prompts: tuple[Prompt, ...]


def parse_ask(values: dict[str, object], settings: Settings) -> AskRequest:
    """``values`` as an :class:`AskRequest` within ``settings``; ConfirmError saying what is
    wrong otherwise."""
    try:
        req = AskRequest.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfirmError(
            f"cannot ask for confirmation: {where}: {first['msg']}",
            hint="the pipeline must pass the policy's approver set and a summary",
        ) from None
    if not req.approvers:
        raise ConfirmError("cannot ask for confirmation: the approver set is empty")
    if len(req.approvers) > settings.max_approvers:
        raise ConfirmError(
            f"{len(req.approvers)} approvers is more than the limit of {settings.max_approvers}",
            hint="name fewer approvers in the policy, or raise max_approvers in [confirm]",
        )
    if req.required > len(req.approvers):
        raise ConfirmError(
            f"{req.required} approvals required but only {len(req.approvers)} approvers",
            hint="the policy's N must not exceed its approver list",
        )
    return req


def expiry_seconds(req: AskRequest, settings: Settings) -> tuple[int, bool]:
    """The expiry to use and whether the policy's wish was cut to ``max_expiry_s`` (a shorter
    expiry is always safe, so a longer one is cut rather than refused)."""
    wanted = req.expires_in_s if req.expires_in_s is not None else settings.default_expiry_s
    return min(wanted, settings.max_expiry_s), wanted > settings.max_expiry_s


def new_ref(tx: StoreTx) -> str:
    """A ref no confirmation in the store has ever used."""
    for digits in _REF_DIGITS:
        for _ in range(_REF_TRIES_PER_LENGTH):
            ref = f"action-{secrets.randbelow(10**digits):0{digits}d}"
            if not tx.ref_taken(ref):
                return ref
    raise ConfirmError("internal: no free confirmation ref")  # 10**12 refs in use


def new_confirmation(
    req: AskRequest, *, ref: str, summary: str, now: datetime, expiry_s: int
) -> Confirmation:
    """The pending confirmation for ``req``, with a fresh 128-bit id."""
    expires_at = now + timedelta(seconds=expiry_s)
    return Confirmation(
        id=secrets.token_hex(16),
        ref=ref,
        request_id=req.request_id,
        skill=req.skill,
        summary=summary,
        prompt=_text(req, ref, summary, req.requester, expires_at),
        action_digest=req.action_digest,
        requester=req.requester,
        approvers=req.approvers,
        required=req.required,
        risk=req.risk,
        created_at=now,
        expires_at=expires_at,
        state=State.PENDING,
    )


def prompts_for(c: Confirmation, req: AskRequest) -> tuple[Prompt, ...]:
    """One prompt per approver, in JID order."""
    return tuple(
        Prompt(
            to=jid,
            body=_text(req, c.ref, c.summary, jid, c.expires_at),
            confirm=confirm_element(c),
            form=confirm_form(c),
        )
        for jid in sorted(c.approvers)
    )


def _text(req: AskRequest, ref: str, summary: str, approver: str, expires_at: datetime) -> str:
    return wording.prompt_text(
        summary=summary,
        ref=ref,
        requester=req.requester,
        approver=approver,
        required=req.required,
        expires_at=expires_at,
    )
