"""How far each peer's clock is from ours, so a countdown starts at one instant everywhere.

NTP's way: we send t0 (our clock), the peer notes t1 when the question arrives and t2 when it
answers (its clock), and we note t3 when the answer arrives. With the path's delay d each way,
t1 = t0 + offset + d and t3 = t2 - offset + d, so offset = ((t1 - t0) + (t2 - t3)) / 2; when
the two ways differ, the error is at most half the round trip. So of the recent exchanges the
one with the shortest round trip is believed: queues (a busy page, a big transfer ahead on the
data channel) only ever lengthen a round trip, and the shortest is the least skewed. Pure
Python (CPython tests).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SAMPLES = 8  # exchanges kept per peer: enough to catch one quiet moment, recent enough to follow drift
BURST = 5  # exchanges at a data channel's opening, so a shutter pressed at once finds an estimate
EVERY_S = 10.0  # then one exchange this often


@dataclass(frozen=True)
class Sample:
    offset: float  # their clock minus ours, ms
    round_trip: float  # ms spent on the wire and in queues, the answerer's own time excluded


def sample(t0: float, t1: float, t2: float, t3: float) -> Sample | None:
    """One exchange's estimate; None when its times cannot be right (an answer before its
    question, an answerer that took negative time)."""
    round_trip = (t3 - t0) - (t2 - t1)
    if t3 < t0 or t2 < t1 or round_trip < 0:
        return None
    return Sample(((t1 - t0) + (t2 - t3)) / 2, round_trip)


class PeerClock:
    """Our estimate of one peer's clock."""

    def __init__(self) -> None:
        self.samples: deque[Sample] = deque(maxlen=SAMPLES)

    def add(self, t0: float, t1: float, t2: float, t3: float) -> None:
        found = sample(t0, t1, t2, t3)
        if found is not None:
            self.samples.append(found)

    def best(self) -> Sample | None:
        return min(self.samples, key=lambda s: s.round_trip, default=None)

    @property
    def offset(self) -> float:
        """Their clock minus ours (ms); 0 before any exchange (clocks are usually close)."""
        best = self.best()
        return best.offset if best is not None else 0.0

    def to_local(self, their_time: float) -> float:
        """A time on their clock, on ours."""
        return their_time - self.offset


class Clocks:
    """Every peer's clock, kept while they are here."""

    def __init__(self) -> None:
        self.peers: dict[str, PeerClock] = {}

    def peer(self, peer: str) -> PeerClock:
        return self.peers.setdefault(peer, PeerClock())

    def forget(self, peer: str) -> None:
        self.peers.pop(peer, None)

    def to_local(self, peer: str, their_time: float) -> float:
        clock = self.peers.get(peer)
        return clock.to_local(their_time) if clock is not None else their_time

    def to_booth(self) -> float:
        """What to add to our clock for the booth's time: the mean of everyone's clocks, ours
        included, as far as we know them. Every peer works out the same instant, so a device
        whose clock is a minute off still agrees with the others (the layout's clocks run on
        it, layout.py)."""
        offsets = [clock.offset for clock in self.peers.values() if clock.best() is not None]
        return sum(offsets) / (len(offsets) + 1)
