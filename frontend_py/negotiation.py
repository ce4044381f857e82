"""The decisions of WebRTC's "perfect negotiation" pattern, free of any browser object.

Both sides of a connection may start an offer at the same moment (glare). Perfect negotiation
makes one side polite: it rolls back its own offer and answers the other's; the impolite side
ignores the colliding offer. Which side is polite is decided by comparing peer ids, so the two
sides always agree without talking about it.

`rtcpeerconnection.py` applies these decisions to a real `RTCPeerConnection`; this module runs
in CPython too, where the tests drive it through glare by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


def is_polite(own_id: str, other_id: str) -> bool:
    """Exactly one side of a pair is polite: the one with the smaller id."""
    return own_id < other_id


@dataclass
class Negotiator:
    """Perfect-negotiation state for one peer connection."""

    polite: bool
    making_offer: bool = False
    ignore_offer: bool = False
    setting_remote_answer_pending: bool = False

    def accept_description(self, description_type: str, signaling_state: str) -> bool:
        """Decide whether to apply a received description; False means ignore it (impolite glare)."""
        ready_for_offer = not self.making_offer and (
            signaling_state == "stable" or self.setting_remote_answer_pending
        )
        collision = description_type == "offer" and not ready_for_offer
        self.ignore_offer = not self.polite and collision
        return not self.ignore_offer

    def candidate_error_matters(self) -> bool:
        """A candidate that fails for an offer we ignored is expected; any other failure is real."""
        return not self.ignore_offer
