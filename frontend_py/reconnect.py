"""When and how fast the signaling socket reconnects after a drop.

Peer connections do not depend on the signaling socket once they are up, so a drop only
pauses new negotiations; the client reconnects in the background with capped exponential
backoff and jitter (so a restarted server is not hit by every client at the same instant).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

# Refusals that a retry cannot fix: the person must act (new link, another room).
FINAL_CLOSE_CODES = frozenset({4400, 4401, 4404, 4409})


def should_reconnect(close_code: int | None) -> bool:
    return close_code not in FINAL_CLOSE_CODES


@dataclass
class Backoff:
    """Delays 0.5, 1, 2, 4 ... capped at `cap` seconds, each +-`jitter` at random."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 8.0
    jitter: float = 0.2
    attempts: int = 0
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * self.factor**self.attempts)
        self.attempts += 1
        return delay * (1 + self.jitter * (2 * self.rand() - 1))

    def reset(self) -> None:
        self.attempts = 0
