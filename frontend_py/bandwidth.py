"""How much each outgoing video may use in a mesh.

In a mesh every participant encodes its camera once per other participant, so both the
uplink and the CPU cost grow with the room. Past three people each copy is sent at half
resolution and frame rate, within a fixed total uplink budget.
"""

from __future__ import annotations

UPLINK_BUDGET_BPS = 2_500_000
MAX_PER_PEER_BPS = 1_200_000


def video_encoding(participants: int) -> dict[str, float]:
    """`RTCRtpEncodingParameters` for each outgoing video in a room of `participants`."""
    others = max(1, participants - 1)
    crowded = participants > 3
    return {
        "maxBitrate": min(MAX_PER_PEER_BPS, UPLINK_BUDGET_BPS // others),
        "scaleResolutionDownBy": 2.0 if crowded else 1.0,
        "maxFramerate": 15.0 if crowded else 30.0,
    }
