"""Per-caller rate limits: a token bucket for each caller, in a table of bounded size.

Each caller may make ``burst`` requests at once and ``rate`` a second after that. The table holds at most
``max_callers`` buckets: the one used longest ago is forgotten first, so that requests from ever new addresses
cost a bounded amount of memory (a forgotten caller starts again with a full bucket, the price of the bound).
Everything runs in the event loop's thread: nothing here awaits, so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TokenBuckets"]


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least one request")
        self.rate = rate
        self.burst = burst
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, caller: str) -> float:
        """Take one request's token for ``caller``: 0.0 if it may go on, else the seconds until it may (a whole
        number of seconds at least one, for ``Retry-After``); a refused request takes nothing."""
        now = self._clock()
        bucket = self._buckets.pop(caller, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        self._buckets[caller] = bucket  # the most recently used last
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return float(max(1, math.ceil((1.0 - bucket.tokens) / self.rate)))
