"""How much each outgoing video may use in a mesh, and how big it is.

In a mesh every participant encodes its camera once per other participant, so both the
uplink and the CPU cost grow with the room. Past three people each copy is sent at half
resolution and frame rate, within a fixed total uplink budget.
"""

from __future__ import annotations

import math

UPLINK_BUDGET_BPS = 2_500_000
MAX_PER_PEER_BPS = 1_200_000
MAX_SENT_PIXELS = 640 * 480  # the camera may be bigger (photos take it all); the video is not
MACROBLOCK = 16  # the packed frame's seam between its halves falls on a codec block's edge


def sent_size(camera_width: int, camera_height: int) -> tuple[int, int]:
    """The sent picture's size for a camera's: the camera's own when it is small enough, else
    scaled down to MAX_SENT_PIXELS with a height of whole macroblocks (docs/media.md)."""
    if camera_width * camera_height <= MAX_SENT_PIXELS:
        return camera_width, camera_height
    aspect = camera_width / camera_height
    height = int(math.sqrt(MAX_SENT_PIXELS / aspect)) // MACROBLOCK * MACROBLOCK
    return 2 * round(height * aspect / 2), height


def video_encoding(participants: int) -> dict[str, float]:
    """`RTCRtpEncodingParameters` for each outgoing video in a room of `participants`."""
    others = max(1, participants - 1)
    crowded = participants > 3
    return {
        "maxBitrate": min(MAX_PER_PEER_BPS, UPLINK_BUDGET_BPS // others),
        "scaleResolutionDownBy": 2.0 if crowded else 1.0,
        "maxFramerate": 15.0 if crowded else 30.0,
    }
