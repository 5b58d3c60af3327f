"""Per-requester token buckets for policy rules.

Each (rule, requester) pair has its own bucket of ``burst`` tokens refilled at ``per_minute``.
An allow or confirm decision takes one token; with none left the request is denied with the
time until the next token. The table of buckets is bounded (least recently used pairs are
forgotten first), so a flood of fresh JIDs cannot grow memory without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from host.policy.schema import RateDoc

__all__ = ["RateLimiter"]

# 100k pairs at ~200 bytes each is ~20 MB at worst; forgetting a pair only refills its bucket.
DEFAULT_MAX_BUCKETS = 100_000


class RateLimiter:
    """Token buckets keyed by (rule id, requester). Thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> None:
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, rule_id: str, requester: str, rate: RateDoc) -> float:
        """Take one token; return 0.0 on success, else the seconds until one is available."""
        now = self._clock()
        key = (rule_id, requester)
        per_second = rate.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(rate.burst), now))
            tokens = min(float(rate.burst), tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / per_second
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return wait
