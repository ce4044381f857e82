"""Token buckets: per connection for messages, per client address for room creation."""

from __future__ import annotations

import time


class TokenBucket:
    """Allows `rate` events per second on average and `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    @property
    def full(self) -> bool:
        return self._tokens + (time.monotonic() - self._stamp) * self.rate >= self.burst


class KeyedLimiter:
    """One bucket per key (a client address); full buckets are dropped to bound memory."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets = {k: b for k, b in self._buckets.items() if not b.full}
                # Still full: every key is busy. Forget the oldest half rather than grow.
                for stale in list(self._buckets)[: len(self._buckets) // 2]:
                    del self._buckets[stale]
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
        return bucket.allow()

    def retry_after(self) -> int:
        """Whole seconds until one more event is allowed for an exhausted key."""
        return max(1, int(1 / self.rate + 0.999))
