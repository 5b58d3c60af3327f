"""The real :class:`~host.agent.actions.ActionGateway`: the agent's tool calls through the pipeline.

::

    gateway = PolicyGateway(pipeline, engine, confirmations=service)
    tools = gateway.tools_for("alice@example.org")          # what the model is shown
    outcome = await gateway.request(call, requester=..., origin="chat", conversation_id=...)

``request`` runs :meth:`host.pipeline.Pipeline.handle` in a worker thread of the gateway's own
pool (the sandbox run, the audit fsyncs and the wait for approvers block; the loop keeps
serving other people meanwhile) and turns its outcome
into words a model can act on: a refusal says why and what to do next; an internal error says
only that something broke, with an incident id that is also in the host's log. The pipeline and
the confirmation service audit every step; the gateway records nothing itself.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from host.agent.actions import Origin, PendingItem, ToolCall, ToolOutcome, ToolSpec
from host.confirm import ConfirmationService, State
from host.gateway.confirmer import ConfirmTrace, current_trace
from host.gateway.offer import ALL_ORIGINS, could_allow
from host.pipeline import Pipeline, PipelineOutcome
from host.policy.engine import PolicyEngine
from host.skills.manifest import Manifest
from sandbox.spec import Status

__all__ = ["Executed", "PolicyGateway"]

log = logging.getLogger(__name__)

# Requests in flight, each holding one worker thread: most of them wait for a person (up to the
# confirmation expiry), so the loop's small default pool would let six pending confirmations
# stall every other run. Past this many, requests queue; they are never refused for it.
MAX_IN_FLIGHT = 64
# Run statuses that describe the host, not the skill: their messages may name paths or
# internals, so they are logged under an incident id instead of being shown.
HOST_FAILURES = frozenset({Status.SANDBOX_ERROR, Status.INVALID_MODULE})
# A tool result goes into the model's context; a skill's answer longer than this is cut there
# (the agent loop applies its own, usually smaller, cap on top).
MAX_RESULT_CHARS = 64 * 1024
INTERNAL = (
    "The host failed while handling this request (incident {incident}); nothing more can be "
    "said here. Tell the user the action failed and that the incident id is in the host's log."
)


@dataclass(frozen=True)
class Executed:
    """A pipeline outcome, plus what the gateway learnt around it.

    ``incident`` is set when the host itself failed (the details are only in the log);
    ``trace`` holds what happened to the confirmation, when one was asked for;
    ``rate_limited`` tells a policy rate limit from any other denial.
    """

    outcome: PipelineOutcome | None
    incident: str | None = None
    trace: ConfirmTrace | None = None

    @property
    def rate_limited(self) -> bool:
        return self.outcome is not None and self.outcome.status == "rate_limited"

    @property
    def queue_full(self) -> bool:
        """Asking for confirmation was refused: too many actions already wait for it."""
        return self.trace is not None and self.trace.refused is not None


class PolicyGateway:
    """Offers the skills a requester's policy could allow, and runs calls through the pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        engine: PolicyEngine,
        *,
        confirmations: ConfirmationService | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._engine = engine
        self._confirmations = confirmations
        self._workers = ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="airlock-request")

    def close(self) -> None:
        """Stop the worker threads once the requests in flight end (their confirmation waits
        end when the event loop cancels them)."""
        self._workers.shutdown(wait=False, cancel_futures=True)

    # -- what is offered -------------------------------------------------------------------

    def offered(self, requester: str, origins: Iterable[str] = ALL_ORIGINS) -> list[Manifest]:
        """Manifests of the skills ``requester`` could ever be allowed on ``origins``, by name."""
        policy = self._engine.policy  # one snapshot, even if a reload happens meanwhile
        wanted = frozenset(origins)
        manifests = self._pipeline.manifests
        return [
            manifests[name]
            for name in sorted(manifests)
            if could_allow(policy, name, requester, wanted)
        ]

    def manifest(self, skill: str, requester: str, origins: Iterable[str]) -> Manifest | None:
        """The manifest of ``skill`` if it is offered to ``requester``; None otherwise (unknown
        and never-allowed skills look the same, so a listing or an error is no oracle)."""
        found = self._pipeline.manifests.get(skill)
        if found is None or not could_allow(self._engine.policy, skill, requester, origins):
            return None
        return found

    def tools_for(self, requester: str) -> list[ToolSpec]:
        """The offered skills as tools for the model."""
        return [
            ToolSpec(name=m.name, description=m.description, parameters=m.parameters)
            for m in self.offered(requester)
        ]

    def pending_for(self, requester: str) -> list[PendingItem]:
        """Confirmations waiting for ``requester`` to answer (``/pending``), oldest first."""
        if self._confirmations is None:
            return []
        return [
            PendingItem(id=c.ref, summary=c.summary[:1024], expires_at=c.expires_at)
            for c in self._confirmations.pending_for(requester)
        ]

    # -- running -----------------------------------------------------------------------------

    async def execute(
        self,
        skill: str,
        arguments: object,
        *,
        requester: str,
        origin: Origin,
        conversation_id: str,
        trace: ConfirmTrace | None = None,
        request_id: str | None = None,
    ) -> Executed:
        """Run one request through the pipeline in a worker thread. Never raises for a broken
        host either: that is an :class:`Executed` with an ``incident`` id (and a log entry).
        ``request_id`` names the request (see :meth:`Pipeline.handle`); random by default."""
        handle = functools.partial(
            self._pipeline.handle,
            skill,
            arguments,
            requester=requester,
            origin=origin,
            conversation_id=conversation_id,
            request_id=request_id,
        )
        token = current_trace.set(trace)
        try:
            context = contextvars.copy_context()  # carries the trace into the worker thread
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(self._workers, context.run, handle)
        except Exception:  # AuditError included: nothing ran after the record that failed
            incident = secrets.token_hex(6)
            log.exception("capability request failed", extra={"incident": incident})
            return Executed(None, incident=incident, trace=trace)
        finally:
            current_trace.reset(token)
        answer = outcome.answer
        host_failed = answer is None or answer.run.status in HOST_FAILURES
        if outcome.status == "failed" and host_failed:
            # The host (module digest, sandbox start), not the skill, failed: details stay here.
            incident = secrets.token_hex(6)
            log.error(
                "capability request failed in the host",
                extra={
                    "incident": incident,
                    "request_id": outcome.request_id,
                    "error": outcome.message[:1000],
                },
            )
            return Executed(outcome, incident=incident, trace=trace)
        return Executed(outcome, trace=trace)

    async def request(
        self, call: ToolCall, *, requester: str, origin: Origin, conversation_id: str
    ) -> ToolOutcome:
        """The model's call, decided, confirmed if needed, run and audited."""
        if self.manifest(call.name, requester, ALL_ORIGINS) is None:
            return ToolOutcome(
                status="invalid",
                text_for_model=f"There is no tool named {call.name!r} for this user; use only "
                "the tools you were given.",
            )
        done = await self.execute(
            call.name,
            dict(call.arguments),
            requester=requester,
            origin=origin,
            conversation_id=conversation_id,
            trace=ConfirmTrace(),
        )
        return model_outcome(done)


def model_outcome(done: Executed) -> ToolOutcome:
    """An :class:`Executed` in words for the model."""
    o = done.outcome
    if done.incident is not None or o is None:
        rid = o.request_id if o is not None else None
        text = INTERNAL.format(incident=done.incident)
        return ToolOutcome(status="failed", text_for_model=text, request_id=rid)
    rid = o.request_id
    if o.status == "done" and o.answer is not None:
        text = json.dumps(o.answer.as_json(), ensure_ascii=False, sort_keys=True)
        return ToolOutcome(status="done", text_for_model=text[:MAX_RESULT_CHARS], request_id=rid)
    if o.status == "invalid":
        text = f"The arguments were refused: {o.message}. Correct them and call the tool again."
        return ToolOutcome(status="invalid", text_for_model=text, request_id=rid)
    if done.rate_limited:
        text = f"Not run: {o.message}. Do not retry now; tell the user to try again later."
        return ToolOutcome(status="rate_limited", text_for_model=text, request_id=rid)
    if o.status == "denied":
        text = (
            f"Not permitted: {o.message}. Do not retry with other arguments to get around it; "
            "tell the user this action is not allowed for them."
        )
        return ToolOutcome(status="denied", text_for_model=text, request_id=rid)
    if o.status == "not_confirmed":
        return ToolOutcome(
            status="not_confirmed", text_for_model=_not_confirmed(done), request_id=rid
        )
    error = o.answer.as_json() if o.answer is not None else {"error": {"message": o.message}}
    text = f"The skill ran and failed: {json.dumps(error, ensure_ascii=False)[:2000]}"
    return ToolOutcome(status="failed", text_for_model=text, request_id=rid)


def _not_confirmed(done: Executed) -> str:
    trace = done.trace
    if trace is not None and trace.refused is not None:
        return (
            f"Not run: confirmation could not be asked ({trace.refused}). Do not ask again now; "
            "tell the user to answer or let the waiting confirmations expire first."
        )
    ref = trace.confirmation.ref if trace is not None and trace.confirmation else None
    final = trace.final if trace is not None else None
    named = f" ({ref})" if ref else ""
    if final is State.DENIED:
        why = f"an approver said no{named}"
    elif final is State.EXPIRED:
        why = f"nobody approved it before it expired{named}"
    else:
        why = f"it was not confirmed{named}"
    return f"Not run: {why}. Do not retry unless the user asks again."
