"""The clock-offset estimator: within half the shortest round trip, whatever the delays."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from frontend_py.clocksync import SAMPLES, Clocks, PeerClock


def exchange(clock: PeerClock, now: float, offset: float, out_ms: float, back_ms: float, think_ms: float = 0.3) -> float:
    """One exchange at our time `now` with a peer whose clock is ours + offset; returns t3."""
    t0 = now
    t1 = t0 + out_ms + offset
    t2 = t1 + think_ms
    t3 = t2 - offset + back_ms
    clock.add(t0, t1, t2, t3)
    return t3


def test_symmetric_delays_give_the_offset_exactly() -> None:
    clock = PeerClock()
    exchange(clock, 1000.0, 12_345.0, 4.0, 4.0)
    assert abs(clock.offset - 12_345.0) < 1e-6
    assert abs(clock.to_local(20_000.0) - (20_000.0 - 12_345.0)) < 1e-6


def test_asymmetric_queues_are_outvoted_by_the_quickest_exchange() -> None:
    """One way is often stuck behind a transfer (up to 400 ms); a quiet exchange among the
    last ones bounds the error by half its round trip."""
    rng = random.Random(7)
    clock = PeerClock()
    now = 0.0
    for _ in range(SAMPLES - 1):
        now = exchange(clock, now + 50, -3_000.0, 1 + rng.random() * 400, 1 + rng.random() * 20) + 1
    exchange(clock, now + 50, -3_000.0, 2.0, 1.0)
    assert abs(clock.offset - -3_000.0) <= 0.5 * 3.0 + 1e-9


def test_impossible_answers_are_ignored() -> None:
    clock = PeerClock()
    clock.add(100.0, 50.0, 40.0, 120.0)  # answered before it was asked, on its own clock
    clock.add(100.0, 500.0, 501.0, 90.0)  # arrived before it was sent
    assert clock.best() is None and clock.offset == 0.0


def test_old_exchanges_are_forgotten_so_a_clock_change_is_followed() -> None:
    clock = PeerClock()
    now = 0.0
    for _ in range(SAMPLES):
        now = exchange(clock, now + 10, 500.0, 1.0, 1.0)
    for _ in range(SAMPLES):
        now = exchange(clock, now + 10, 800.0, 3.0, 3.0)
    assert abs(clock.offset - 800.0) < 1e-6


@given(
    offset=st.floats(-1e7, 1e7),
    delays=st.lists(st.tuples(st.floats(0.05, 500), st.floats(0.05, 500)), min_size=1, max_size=20),
)
def test_the_error_never_exceeds_half_the_chosen_round_trip(offset: float, delays: list[tuple[float, float]]) -> None:
    clock = PeerClock()
    now = 1e12
    for out_ms, back_ms in delays:
        now = exchange(clock, now + 100, offset, out_ms, back_ms) + 5
    best = clock.best()
    assert best is not None
    assert abs(clock.offset - offset) <= best.round_trip / 2 + 1e-3


def test_every_peer_works_out_the_same_booth_time_whatever_its_own_clock() -> None:
    """Three devices, one a minute fast: each one's clock plus its correction is the same instant."""
    truth = {"ann": 0.0, "bob": 40.0, "cy": 60_000.0}
    booth_times = []
    for me, mine in truth.items():
        clocks = Clocks()
        for peer, theirs in truth.items():
            if peer != me:
                exchange(clocks.peer(peer), 1e12, theirs - mine, 2.0, 2.0)
        booth_times.append(mine + clocks.to_booth())
    assert max(booth_times) - min(booth_times) < 1e-6
    assert Clocks().to_booth() == 0.0
