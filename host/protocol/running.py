"""Running one protocol request through the gateway, answering at once when it must wait.

Both ``#execute`` and the skill commands use :func:`run_or_defer`. If the request finishes
within ``pending_after_s`` and asks no confirmation, the caller gets the finished
:class:`Executed` (the IQ carries the result). Otherwise the caller gets, at once, what to put
in a pending reference: the :class:`Confirmation` when approvers must first decide
(``reason='confirmation'``), or :class:`Running` when the run is merely slow
(``reason='running'``); ``later`` is called with the outcome when it comes, to deliver it by
message.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from host.confirm import Confirmation
from host.errors import AirlockError
from host.gateway import ConfirmTrace, Executed, PolicyGateway
from host.request.model import new_request_id

__all__ = ["PENDING_AFTER_S", "Deferred", "Running", "check_pending_after", "run_or_defer"]

log = logging.getLogger(__name__)

Deferred = Callable[[Executed], Awaitable[None]]
# How long an IQ waits for its run before it is answered with a pending reference. Short: most
# runs end well within it (one round trip, result in the IQ), and a client whose IQ timeout is
# the common 30-60 s still hears about a slow run (up to the 600 s time limit) in time.
PENDING_AFTER_S = 2.0
# Above this, the IQ answer itself could outlast a client's IQ timeout: refused at start.
MAX_PENDING_AFTER_S = 30.0
# Tasks that deliver deferred outcomes; kept here so the loop does not drop them mid-flight.
_background: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True)
class Running:
    """A request still running past the threshold: its id, for ``<pending reason='running'>``."""

    request_id: str


class PendingAfterError(AirlockError):
    """The pending threshold is not a usable number of seconds."""


def check_pending_after(seconds: float) -> float:
    """``seconds`` if it is a usable threshold (0 < s <= 30); PendingAfterError otherwise."""
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_PENDING_AFTER_S):
        raise PendingAfterError(
            f"pending_after_s is {seconds!r}; it must be over 0 and at most "
            f"{MAX_PENDING_AFTER_S:g} s",
            hint=f"use the default of {PENDING_AFTER_S:g} s",
        )
    return seconds


async def run_or_defer(
    gateway: PolicyGateway,
    skill: str,
    arguments: dict[str, Any],
    *,
    requester: str,
    later: Deferred,
    pending_after_s: float = PENDING_AFTER_S,
) -> Executed | Confirmation | Running:
    """Run ``skill`` for ``requester`` (origin ``protocol``); see the module docstring."""
    trace = ConfirmTrace()
    request_id = new_request_id()  # named now, so a pending reference can cite it
    run = asyncio.create_task(
        gateway.execute(
            skill,
            arguments,
            requester=requester,
            origin="protocol",
            conversation_id=requester,
            trace=trace,
            request_id=request_id,
        )
    )
    asked = asyncio.create_task(trace.asked.wait())
    await asyncio.wait({run, asked}, timeout=pending_after_s, return_when=asyncio.FIRST_COMPLETED)
    if run.done():
        asked.cancel()
        return await run
    if trace.confirmation is not None:
        pending: Confirmation | Running = trace.confirmation
    elif asked.done():
        # Asked, but no confirmation was stored (the queue is full): the run ends at once.
        return await run
    else:
        asked.cancel()
        pending = Running(request_id)

    async def deliver() -> None:
        try:
            await later(await run)
        except Exception:
            log.exception("could not deliver a deferred result", extra={"request_id": request_id})

    task = asyncio.create_task(deliver())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return pending
