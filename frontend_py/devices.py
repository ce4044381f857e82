"""Cameras and microphones inside the booth: which camera "Switch camera" turns to, and why
opening a device failed.

On a phone, "Switch camera" goes from the front camera to the back one and back again, even
where the phone lists several back cameras (wide, ultra-wide, telephoto); on a computer, it goes
round the cameras in the order the browser lists them. Which way a camera faces comes from the
browser when it says (the open track's `facingMode` setting, a listed camera's capabilities),
else from its label ("Front Camera", "camera2 1, facing front", "후면 카메라").

Pure logic, no browser: the browser side is media.py and devicechoice.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

USER = "user"  # facing the person: a phone's front camera
ENVIRONMENT = "environment"  # facing away: a phone's back camera
FRONT_WORDS = ("front", "전면")
BACK_WORDS = ("back", "rear", "후면")

DENIED, BUSY, MISSING = "denied", "busy", "missing"


@dataclass(frozen=True)
class Camera:
    id: str
    label: str
    facing: str = ""  # USER, ENVIRONMENT, or "" when unknown


def facing(label: str, capabilities: Iterable[str] = ()) -> str:
    """Which way a listed camera faces: its capabilities' `facingMode` when it names one side,
    else a word of its label; "" when neither tells."""
    sides = {side for side in capabilities if side in (USER, ENVIRONMENT)}
    if len(sides) == 1:
        return sides.pop()
    words = label.lower()
    if any(word in words for word in FRONT_WORDS):
        return USER
    if any(word in words for word in BACK_WORDS):
        return ENVIRONMENT
    return ""


def next_camera(cameras: Sequence[Camera], current: str, current_facing: str = "") -> str | None:
    """The id of the camera to switch to from `current` (the one in use, whose own `facingMode`
    setting is `current_facing` when the browser gives it). From a camera facing one way, the
    first listed camera facing the other (a phone's main back camera is listed before its other
    back ones); otherwise the next camera in the list, round. None with fewer than two cameras."""
    if len(cameras) < 2:
        return None
    index = next((i for i, camera in enumerate(cameras) if camera.id == current), -1)
    if index < 0:
        return cameras[0].id
    side = current_facing if current_facing in (USER, ENVIRONMENT) else cameras[index].facing
    if side:
        other = [camera for camera in cameras if camera.facing not in ("", side) and camera.id != current]
        if other:
            return other[0].id
    return cameras[(index + 1) % len(cameras)].id


def failure(error: str) -> str:
    """Why getUserMedia failed, from the DOMException's name (or its text): DENIED (the person or
    the browser's settings refused), BUSY (another app holds the device, or it would not start;
    a phone may open one camera at a time), MISSING (no such device any more, or none can do what
    was asked)."""
    if any(name in error for name in ("NotAllowed", "Security", "PermissionDenied")):
        return DENIED
    if any(name in error for name in ("NotReadable", "TrackStart", "AbortError", "Could not start")):
        return BUSY
    return MISSING
