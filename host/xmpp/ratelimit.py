"""Per-sender token buckets, so one JID cannot flood the model (or the disk) with messages.

Each sender has ``burst`` tokens, refilled at ``per_minute``; a message costs one. When the
bucket is empty the message is dropped before any model call; the first drop of a run is
flagged ``notify`` so the edge can say so once, instead of answering every dropped message
(which would make the agent a flood amplifier). At most ``max_keys`` senders are tracked; the
least recently seen is forgotten first, so memory stays bounded under a spoofed-sender flood.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """Whether to accept the message, and whether to tell the sender about dropping it."""

    allowed: bool
    notify: bool = False


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    notified: bool = False


class RateLimiter:
    """Token buckets keyed by sender."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate limiter needs per_minute > 0, burst >= 1, max_keys >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, key: str) -> Verdict:
        """Spend one token of ``key``'s bucket if there is one."""
        now = self.clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, stamp=now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.notified = False
            return Verdict(allowed=True)
        notify = not bucket.notified
        bucket.notified = True
        return Verdict(allowed=False, notify=notify)

    def __len__(self) -> int:
        return len(self._buckets)
