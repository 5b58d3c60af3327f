"""Running one protocol request through the gateway, answering at once when it must wait.

Both ``#execute`` and the skill commands use :func:`run_or_defer`: if the request finishes
before its confirmation is asked, the caller gets the finished :class:`Executed`; if approvers
must first decide, the caller gets the :class:`Confirmation` at once (to answer with a pending
reference) and ``later`` is called with the outcome when it comes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from host.confirm import Confirmation
from host.gateway import ConfirmTrace, Executed, PolicyGateway

__all__ = ["Deferred", "run_or_defer"]

log = logging.getLogger(__name__)

Deferred = Callable[[Executed], Awaitable[None]]
# Tasks that deliver deferred outcomes; kept here so the loop does not drop them mid-flight.
_background: set[asyncio.Task[Any]] = set()


async def run_or_defer(
    gateway: PolicyGateway,
    skill: str,
    arguments: dict[str, Any],
    *,
    requester: str,
    later: Deferred,
) -> Executed | Confirmation:
    """Run ``skill`` for ``requester`` (origin ``protocol``); see the module docstring."""
    trace = ConfirmTrace()
    run = asyncio.create_task(
        gateway.execute(
            skill,
            arguments,
            requester=requester,
            origin="protocol",
            conversation_id=requester,
            trace=trace,
        )
    )
    asked = asyncio.create_task(trace.asked.wait())
    await asyncio.wait({run, asked}, return_when=asyncio.FIRST_COMPLETED)
    if run.done() or trace.confirmation is None:
        asked.cancel()
        return await run
    confirmation = trace.confirmation

    async def deliver() -> None:
        try:
            await later(await run)
        except Exception:
            log.exception("could not deliver a deferred result", extra={"ref": confirmation.ref})

    task = asyncio.create_task(deliver())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return confirmation
