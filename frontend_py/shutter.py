"""The rules of the shutter that every participant applies alike, so all agree on one photo.

Anyone may press. A press starts a countdown at an instant on the presser's clock (each
participant converts it with clocksync.py); at its end each participant takes its own still
and sends it to everyone. The presser then decides which stills made it (all that arrived
within DECISION_WAIT_S) and freezes the layout as it had it at the shot; everyone composes
the photo from exactly those inputs. Pure Python (CPython tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from frontend_py.datachannel import Shutter
from frontend_py.layout import STAGE, Layout, layer_kind

# A countdown starts this long after the press: the shutter message reaches every page first,
# so that all start on the one instant rather than each when the message arrives.
LEAD_S = 0.4
DECISION_WAIT_S = 5.0  # after the shot, the presser waits this long for stills at most
STILL_WAIT_S = 10.0  # after the decision, a still it lists is waited for this long at most
ORPHAN_WAIT_S = 8.0  # after the shot, without any decision (the presser left), decide alone
SERIES_PAUSE_S = 2.0  # between a strip's shots, to change poses, before the next countdown
PRESSES_PER_MINUTE = 20  # a peer's shutters beyond this are ignored (a stuck key, a hostile peer)


def wins(current: Shutter, incoming: Shutter) -> bool:
    """Whether `incoming` takes over from the countdown in progress.

    The next shot of the same series follows on. Two presses at once (each presser saw no
    countdown yet) are settled by the presser's id, which every participant compares alike;
    a series past its first shot is never interrupted."""
    if incoming.series == current.series:
        return incoming.index > current.index
    if current.index > 0 or incoming.index > 0:
        return False
    return incoming.presser < current.presser


def decided_stills(people: Iterable[str], arrived: Iterable[str]) -> tuple[str, ...]:
    """The stills a photo uses: of those who were in the booth at the press, the ones here."""
    return tuple(sorted(set(people) & set(arrived)))


def ready(people: Iterable[str], arrived: Iterable[str]) -> bool:
    """Every still the presser waits for is here: it need not wait out DECISION_WAIT_S."""
    return set(people) <= set(arrived)


def frozen_ops(layout: Layout, people: Iterable[str]) -> list[dict[str, Any]]:
    """The layout as it is now, for a photo of `people`: the stage's values, the stickers
    shown and the layers of those people (someone who came during the countdown is not in
    the photo)."""
    keep = {layer.id for layer in layout.layers() if layer.kind == "sticker" or layer.id in set(people)}
    return [op for op in layout.snapshot() if op["layer"] == STAGE or (op["layer"] in keep and layer_kind(op["layer"]) != "stage")]


class PressLimit:
    """At most PRESSES_PER_MINUTE countdowns per peer in any minute."""

    def __init__(self) -> None:
        self.presses: dict[str, list[float]] = {}

    def allow(self, peer: str, now_s: float) -> bool:
        recent = [at for at in self.presses.get(peer, []) if now_s - at < 60.0]
        if len(recent) >= PRESSES_PER_MINUTE:
            self.presses[peer] = recent
            return False
        self.presses[peer] = [*recent, now_s]
        return True

    def forget(self, peer: str) -> None:
        self.presses.pop(peer, None)
