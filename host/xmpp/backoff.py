"""Exponential backoff with full jitter, for reconnecting and for retrying model calls.

Delay ``n`` (from 0) is drawn uniformly from ``[0, min(cap, base * 2**n)]`` ("full jitter"):
many agents restarted by the same outage do not all knock on the server at the same instant,
and the wait never exceeds ``cap``. ``reset()`` after a success starts again from ``base``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Successive waits for retrying something that failed."""

    def __init__(
        self,
        *,
        base: float = 1.0,
        cap: float = 120.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._rand = rand
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        """The largest wait for ``attempt`` (0-based): ``min(cap, base * 2**attempt)``."""
        # Bounding the exponent keeps 2**attempt from growing without limit on long outages.
        return min(self.cap, self.base * 2.0 ** min(attempt, 62))

    def next_delay(self) -> float:
        """The wait before the next try; each call moves one attempt further."""
        delay = self._rand() * self.ceiling(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``base`` (call after a success)."""
        self.attempt = 0
