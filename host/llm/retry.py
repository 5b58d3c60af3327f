"""Bounded retries of one provider call on transient failures (429, 5xx, timeouts).

Providers set their SDK's own retries to zero and call :func:`call_with_retries`, so every
backend retries the same way, a bounded number of times, with jittered exponential backoff; a
``Retry-After`` the server sends is honoured up to the backoff cap. After the last try the
error becomes :class:`host.errors.LlmError` whose text is safe to log (never a key, never the
prompt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from host.errors import LlmError
from host.xmpp.backoff import Backoff

__all__ = ["Transient", "call_with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Transient(Exception):
    """A failure worth retrying, with the provider's words and an optional server wait."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    provider: str,
    max_retries: int,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt`` until it returns, retrying :class:`Transient` up to ``max_retries``.

    Any other :class:`LlmError` ends at once (a 400 will not get better by asking again).
    """
    tries = 0
    while True:
        try:
            return await attempt()
        except Transient as exc:
            if tries >= max_retries:
                raise LlmError(
                    f"{provider} failed after {tries + 1} attempts: {exc.reason}",
                    hint="check the provider's status and the [llm] settings",
                ) from None
            delay = backoff.next_delay()
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, backoff.cap))
            log.warning(
                "llm retry", extra={"provider": provider, "reason": exc.reason, "delay": delay}
            )
            tries += 1
            await sleep(delay)
