"""Rate limiting kept in bounded memory."""

from __future__ import annotations

from signaling.ratelimit import KeyedLimiter


def test_address_limiter_stays_bounded_under_many_busy_addresses() -> None:
    limiter = KeyedLimiter(rate=0.001, burst=1, max_keys=100)
    for i in range(1_000):
        assert limiter.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) <= 100
    assert not limiter.allow("10.0.3.231")  # the newest addresses are still limited
