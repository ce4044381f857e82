"""Limits: token buckets (per connection for messages, per client address for room creation)
and a count of sockets waiting to join, per client address and in all."""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections import Counter
from collections.abc import Iterator


def client_key(host: str) -> str:
    """The key a client address is limited under.

    An IPv6 client is keyed by its /64: one subscriber usually holds a whole /64 and can pick a
    new address in it for every request.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


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
    def ready(self) -> bool:
        """Whether `allow()` would succeed now (it takes nothing)."""
        return min(self.burst, self._tokens + (time.monotonic() - self._stamp) * self.rate) >= 1

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

    def ready(self, key: str) -> bool:
        """Whether `allow(key)` would succeed now, without taking anything: to check several
        limiters before any of them counts a request that another refuses."""
        bucket = self._buckets.get(key)
        return bucket is None or bucket.ready

    def retry_after(self) -> int:
        """Whole seconds until one more event is allowed for an exhausted key."""
        return max(1, int(1 / self.rate + 0.999))


class LimitReached(Exception):
    """`OpenLimit` is full for this key or in all."""


class OpenLimit:
    """Counts what is held open per key and in all, within `per_key` and `total`."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total = total
        self._open: Counter[str] = Counter()
        self._count = 0

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Count one open thing under `key` for the block; raise `LimitReached` when full."""
        if self._count >= self.total or self._open[key] >= self.per_key:
            raise LimitReached(f"{self._count} open in all, {self._open[key]} for this client")
        self._open[key] += 1
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1
            self._open[key] -= 1
            if not self._open[key]:
                del self._open[key]
