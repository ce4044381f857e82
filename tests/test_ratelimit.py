"""Rate limiting: bounded memory, and the key a client address counts under."""

from __future__ import annotations

from signaling.ratelimit import KeyedLimiter, client_key


def test_address_limiter_stays_bounded_under_many_busy_addresses() -> None:
    limiter = KeyedLimiter(rate=0.001, burst=1, max_keys=100)
    for i in range(1_000):
        assert limiter.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) <= 100
    assert not limiter.allow("10.0.3.231")  # the newest addresses are still limited


def test_clients_are_keyed_by_address_and_ipv6_by_64() -> None:
    assert client_key("203.0.113.9") == "203.0.113.9"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_key("not an address") == "not an address"
