"""WebRTC's "perfect negotiation" pattern, free of any browser object.

Both sides of a connection may start an offer at the same moment (glare). Perfect negotiation
makes one side polite: it rolls back its own offer and answers the other's; the impolite side
ignores the colliding offer. Which side is polite is decided by comparing peer ids, so the two
sides always agree without talking about it.

`Negotiator` drives anything shaped like `PeerConnectionLike`: in the browser an adapter over
a real `RTCPeerConnection` (rtcpeerconnection.py), in the CPython tests a model of the W3C
signaling state machine, driven through glare in every message order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

# Both sides want to offer the moment they learn of each other. The polite side gives the
# impolite side's first offer this long to arrive before offering itself: Chromium loses ICE
# gathering, for good, on a connection whose offer is rolled back while it gathers.
FIRST_OFFER_GRACE_S = 2.0


def is_polite(own_id: str, other_id: str) -> bool:
    """Exactly one side of a pair is polite: the one with the smaller id."""
    return own_id < other_id


class PeerConnectionLike(Protocol):
    @property
    def signaling_state(self) -> str: ...

    @property
    def has_remote_description(self) -> bool: ...

    async def set_local_description(self) -> dict[str, str]:
        """Create and apply the fitting offer or answer (implicit rollback included); return it."""

    async def set_remote_description(self, description: dict[str, str]) -> None: ...

    async def add_ice_candidate(self, candidate: dict[str, Any]) -> None: ...


class Negotiator:
    """Perfect-negotiation state for one connection; `send(data)` relays a signal to the peer."""

    def __init__(
        self,
        polite: bool,
        pc: PeerConnectionLike,
        send: Callable[[dict[str, Any]], Any],
        first_offer_grace: float = FIRST_OFFER_GRACE_S,
    ) -> None:
        self.polite = polite
        self.first_offer_grace = first_offer_grace
        self.pc = pc
        self.send = send
        self.making_offer = False
        self.ignore_offer = False
        self.setting_remote_answer_pending = False

    async def negotiation_needed(self) -> None:
        if self.polite and not self.pc.has_remote_description:
            await asyncio.sleep(self.first_offer_grace)
            if self.pc.has_remote_description or self.pc.signaling_state != "stable":
                # The other side's offer came and covers ours; if anything is left, the
                # browser asks again once the connection is stable.
                return
        self.making_offer = True
        try:
            description = await self.pc.set_local_description()
            self.send({"description": description})
        finally:
            self.making_offer = False

    async def receive(self, data: dict[str, Any]) -> None:
        """Apply one signal from the peer: a description or an ICE candidate."""
        description = data.get("description")
        if isinstance(description, dict):
            await self._receive_description(description)
        elif isinstance(data.get("candidate"), dict):
            try:
                await self.pc.add_ice_candidate(data["candidate"])
            except Exception:
                # A candidate for an offer we ignored is expected to fail.
                if not self.ignore_offer:
                    raise

    async def _receive_description(self, description: dict[str, str]) -> None:
        kind = description.get("type")
        ready_for_offer = not self.making_offer and (
            self.pc.signaling_state == "stable" or self.setting_remote_answer_pending
        )
        collision = kind == "offer" and not ready_for_offer
        self.ignore_offer = not self.polite and collision
        if self.ignore_offer:
            return
        self.setting_remote_answer_pending = kind == "answer"
        try:
            await self.pc.set_remote_description(description)
        finally:
            self.setting_remote_answer_pending = False
        if kind == "offer":
            self.send({"description": await self.pc.set_local_description()})
