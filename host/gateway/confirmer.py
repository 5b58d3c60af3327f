"""Confirmation over XMPP for the pipeline: ask the approvers, wait for them, claim once.

The pipeline runs in a worker thread (its sandbox run and audit fsyncs block); the
:class:`~host.confirm.ConfirmationService` and the XMPP stream live on the asyncio loop.
:class:`XmppConfirmer` bridges the two: :meth:`XmppConfirmer.confirm` (called in the worker
thread) schedules the whole exchange on the loop with ``run_coroutine_threadsafe`` and blocks
the worker, never the loop, until it is decided:

1. ``service.ask`` stores the confirmation and audits ``confirm.asked`` (a requester with too
   many waiting is refused there, audited as ``confirm.ask_refused``);
2. each prompt goes to its approver through the :class:`Notifier` port;
3. ``service.wait``, bounded by the expiry (plus a short margin for the sweep);
4. only ``approved`` leads to ``service.claim`` with the digest of what is about to run, which
   succeeds at most once. Denied, expired, withdrawn, a refused claim: not confirmed.

The service records every step; nothing here writes to the audit log a second time.

Whoever calls the gateway may watch the exchange through a :class:`ConfirmTrace` set in
:data:`current_trace` (the gateway copies the caller's context into its worker thread): the
``#execute`` handler uses it to answer at once with a pending reference while the approvers
decide.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from dataclasses import dataclass, field
from typing import Protocol
from xml.etree.ElementTree import Element

from host.confirm import Confirmation, ConfirmationService, Risk, State
from host.errors import ConfirmError
from host.policy.decision import Decision
from host.request.model import CapabilityRequest
from host.skills.manifest import Manifest

__all__ = ["ConfirmTrace", "Notifier", "XmppConfirmer", "current_trace", "summary_of"]

log = logging.getLogger(__name__)

# After the expiry, the service's own poll notices it within one poll interval; this margin
# only bounds a wait whose poll was starved by a busy loop. Never an approval window.
EXPIRY_MARGIN_S = 5.0
# The arguments shown to an approver; the summary is cut by the confirmation core anyway.
MAX_SHOWN_ARGUMENT_CHARS = 300


class Notifier(Protocol):
    """Sends one confirmation prompt to one approver (the XMPP edge implements it)."""

    async def send(self, to_jid: str, body: str, confirm: Element, form: Element) -> None:
        """Send ``body`` with the ``<confirm/>`` element and its form to ``to_jid``."""
        ...


@dataclass
class ConfirmTrace:
    """What happened to the confirmation of one gateway call, as it happens (loop thread only).

    ``asked`` is set once the confirmation is stored and its prompts sent, or once asking was
    refused (``refused`` says why); ``final`` is the state the confirmation ended in.
    """

    asked: asyncio.Event = field(default_factory=asyncio.Event)
    confirmation: Confirmation | None = None
    refused: str | None = None
    final: State | None = None


current_trace: contextvars.ContextVar[ConfirmTrace | None] = contextvars.ContextVar(
    "airlock_confirm_trace", default=None
)


def summary_of(request: CapabilityRequest, manifest: Manifest) -> str:
    """The one line an approver reads: what the skill does, and the exact arguments."""
    shown = json.dumps(request.arguments, ensure_ascii=False, sort_keys=True)
    if len(shown) > MAX_SHOWN_ARGUMENT_CHARS:
        shown = shown[:MAX_SHOWN_ARGUMENT_CHARS] + "..."
    return f"{manifest.effect or manifest.description} [{request.skill} {shown}]"


class XmppConfirmer:
    """Implements :class:`host.pipeline.Confirmer` over a confirmation service on ``loop``."""

    def __init__(
        self,
        service: ConfirmationService,
        notifier: Notifier,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._service = service
        self._notifier = notifier
        self._loop = loop

    def confirm(
        self, request: CapabilityRequest, decision: Decision, digest: str, manifest: Manifest
    ) -> bool:
        """Ask, wait and claim; True only when this run holds the single-use claim.

        Must be called from a thread other than the loop's (the pipeline's worker thread).
        """
        approvers = decision.approvers
        if approvers is None:
            return False  # a confirm decision names its approvers; without them nobody can
        trace = current_trace.get()
        future = asyncio.run_coroutine_threadsafe(
            self._exchange(request, decision, digest, manifest, trace), self._loop
        )
        return future.result()

    async def _exchange(
        self,
        request: CapabilityRequest,
        decision: Decision,
        digest: str,
        manifest: Manifest,
        trace: ConfirmTrace | None,
    ) -> bool:
        assert decision.approvers is not None
        try:
            asked = self._service.ask(
                request_id=request.request_id,
                skill=request.skill,
                summary=summary_of(request, manifest),
                action_digest=digest,
                requester=request.requester,
                approvers=decision.approvers.jids,
                required=decision.approvers.required,
                risk=Risk.HIGH if manifest.destructive else Risk.MEDIUM,
                expires_in_s=decision.approvers.expires_s,
            )
        except ConfirmError as exc:
            if trace is not None:
                trace.refused = exc.message
                trace.asked.set()
            return False
        c = asked.confirmation
        for prompt in asked.prompts:
            try:
                await self._notifier.send(prompt.to, prompt.body, prompt.confirm, prompt.form)
            except Exception:  # one unreachable approver must not stop the others' prompts
                log.exception("could not send a confirmation prompt", extra={"ref": c.ref})
        if trace is not None:
            trace.confirmation = c
            trace.asked.set()
        # Both times are on the service's clock: the wait is as long as the approvers have.
        left = (c.expires_at - c.created_at).total_seconds()
        try:
            state = await asyncio.wait_for(
                self._service.wait(c.id), timeout=max(left, 0.0) + EXPIRY_MARGIN_S
            )
        except TimeoutError:
            self._service.sweep()
            found = self._service.get(c.id)
            state = found.state if found is not None else State.EXPIRED
        approved = state is State.APPROVED and self._service.claim_for_execution(c.id, digest)
        if trace is not None:
            trace.final = State.EXECUTED if approved else state
        return approved
