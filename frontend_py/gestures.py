"""Touch gestures on the stage as layer changes: two fingers pinch, twist and carry a layer at
once, and two quick taps in one spot make a double tap.

Pure geometry and timing on stage pixels, so it is tested in CPython; stageinput.py feeds it
pointer events. The results are the same x/y/scale/rotation values a mouse drag produces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from frontend_py.layout import MAX_SCALE, MIN_SCALE, LayerState, wrap_degrees

Point = tuple[float, float]

TAP_MAX_MS = 300.0  # down to up: longer is a press, not a tap
TAP_SLOP_PX = 10.0  # CSS pixels a finger may wander and still tap
DOUBLE_TAP_MS = 350.0  # between the two taps' ends
DOUBLE_TAP_PX = 30.0  # between the two taps' spots
MIN_SPREAD_PX = 8.0  # fingers closer than this give no usable distance or angle


def pinched(start: LayerState, first: tuple[Point, Point], now: tuple[Point, Point], width: float, height: float) -> dict[str, float]:
    """The layer after two fingers moved from `first` to `now` (stage pixels, same finger order).

    The layer scales by how much farther apart the fingers are, turns by how much the line
    between them turned, and moves with their midpoint, so the spot under the fingers stays
    under them, as in any photo app. Scale is clamped to the layout's limits and the centre
    kept on the stage."""
    (a0, b0), (a1, b1) = first, now
    spread_before, spread_now = math.dist(a0, b0), math.dist(a1, b1)
    if spread_before < MIN_SPREAD_PX or spread_now < MIN_SPREAD_PX:
        return {}
    scale = min(MAX_SCALE, max(MIN_SCALE, start.scale * spread_now / spread_before))
    ratio = scale / start.scale
    turn = _angle(a1, b1) - _angle(a0, b0)
    mid_before, mid_now = _midpoint(a0, b0), _midpoint(a1, b1)
    # The layer's centre, seen from the fingers' midpoint, turns and scales with them.
    dx, dy = start.x * width - mid_before[0], start.y * height - mid_before[1]
    cos, sin = math.cos(turn), math.sin(turn)
    centre_x = mid_now[0] + ratio * (dx * cos - dy * sin)
    centre_y = mid_now[1] + ratio * (dx * sin + dy * cos)
    return {
        "x": _on_stage(centre_x / width),
        "y": _on_stage(centre_y / height),
        "scale": scale,
        "rotation": wrap_degrees(start.rotation + math.degrees(turn)),
    }


def _angle(a: Point, b: Point) -> float:
    return math.atan2(b[1] - a[1], b[0] - a[0])


def _midpoint(a: Point, b: Point) -> Point:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


def _on_stage(fraction: float) -> float:
    return min(1.0, max(0.0, fraction))


@dataclass
class Tap:
    at_ms: float
    point: Point  # CSS pixels


class DoubleTap:
    """Tells when a tap is the second of a double tap. Feed it each finger's down and up."""

    def __init__(self) -> None:
        self._down: Tap | None = None
        self._last: Tap | None = None

    def down(self, at_ms: float, point: Point) -> None:
        self._down = Tap(at_ms, point)

    def cancel(self) -> None:
        """A second finger or a drag: what is under way is no tap."""
        self._down = self._last = None

    def up(self, at_ms: float, point: Point) -> bool:
        """True when this up ends a tap that follows another tap close in time and place."""
        down, self._down = self._down, None
        if down is None or at_ms - down.at_ms > TAP_MAX_MS or math.dist(down.point, point) > TAP_SLOP_PX:
            self._last = None
            return False
        last = self._last
        if last is not None and at_ms - last.at_ms <= DOUBLE_TAP_MS and math.dist(last.point, point) <= DOUBLE_TAP_PX:
            self._last = None
            return True
        self._last = Tap(at_ms, point)
        return False
