"""Keeping the stream up: reconnect with jittered exponential backoff after any loss.

slixmpp's own retry loop waits without jitter and up to five minutes; the :class:`Reconnector`
replaces it: a failed attempt is cancelled and the next one scheduled after
``backoff.next_delay()``, a lost session likewise, and a session that starts (or resumes, with
XEP-0198) resets the backoff. ``stop()`` ends it for a clean shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from host.xmpp.backoff import Backoff

__all__ = ["Reconnector"]

log = logging.getLogger(__name__)


class Reconnector:
    """Attached to one slixmpp stream; owns its (re)connection attempts."""

    def __init__(
        self,
        stream: Any,
        backoff: Backoff,
        *,
        host: str,
        port: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.stream = stream
        self.backoff = backoff
        self.address = (host, port)
        self.sleep = sleep
        self.stopping = False
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        stream.add_event_handler("session_start", self._up)
        stream.add_event_handler("session_resumed", self._up)
        stream.add_event_handler("connection_failed", self._failed)
        stream.add_event_handler("disconnected", self._lost)

    def connect(self) -> None:
        """First connection attempt."""
        self.stopping = False
        self.stream.connect(*self.address)

    def stop(self) -> None:
        """No more attempts (before a deliberate disconnect)."""
        self.stopping = True
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _up(self, _event: Any) -> None:
        self.backoff.reset()

    def _failed(self, reason: Any) -> None:
        log.warning("xmpp connection failed", extra={"reason": str(reason)})
        self.stream.cancel_connection_attempt()
        self._schedule()

    def _lost(self, reason: Any) -> None:
        if not self.stopping:
            log.warning("xmpp connection lost", extra={"reason": str(reason)})
            self._schedule()

    def _schedule(self) -> None:
        if self.stopping or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.ensure_future(self._again())

    async def _again(self) -> None:
        delay = self.backoff.next_delay()
        log.info("xmpp reconnecting", extra={"delay": round(delay, 2)})
        await self.sleep(delay)
        if not self.stopping:
            self.reconnects += 1
            self.stream.connect(*self.address)
