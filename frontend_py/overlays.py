"""The face overlays and where each lands on a face. Pure Python (CPython tests run it).

Every overlay is an SVG in `frontend_py/overlays/` drawn in one face frame: origin between
the eye centres, x along the eye line, y down, 100 units between the eyes (see the README
there). Placing one is a similarity transform: scale by the eye distance, turn with the
head's roll, and shift so the art's anchor point meets its landmarks on the actual face.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from frontend_py.facetracking import Point

EYE_DISTANCE_UNITS = 100.0


@dataclass(frozen=True)
class Overlay:
    name: str  # file stem, and the i18n key "overlay.<name>"
    anchor: tuple[int, ...]  # landmarks whose mean is the anchor on the face
    anchor_art: Point  # the same point in art units


EYES = (33, 133, 362, 263)
FOREHEAD = (10,)
UNDER_NOSE = (164,)
CHEEKS = (205, 425)

CATALOGUE: tuple[Overlay, ...] = (
    Overlay("sunglasses", EYES, (0.0, 0.0)),
    Overlay("glasses", EYES, (0.0, 0.0)),
    Overlay("mask", EYES, (0.0, 0.0)),
    Overlay("hat", FOREHEAD, (0.0, -95.0)),
    Overlay("crown", FOREHEAD, (0.0, -95.0)),
    Overlay("bunny-ears", FOREHEAD, (0.0, -95.0)),
    Overlay("moustache", UNDER_NOSE, (0.0, 88.0)),
    Overlay("blush", CHEEKS, (0.0, 70.0)),
    Overlay("face-paint", CHEEKS, (0.0, 70.0)),
)
BY_NAME = {overlay.name: overlay for overlay in CATALOGUE}

_VIEW_BOX = re.compile(r'viewBox\s*=\s*"\s*([-\d.eE]+)[\s,]+([-\d.eE]+)[\s,]+([-\d.eE]+)[\s,]+([-\d.eE]+)\s*"')


def view_box(svg: str) -> tuple[float, float, float, float]:
    """(x, y, width, height) of an SVG's viewBox: the art's extent in face units."""
    match = _VIEW_BOX.search(svg)
    if match is None:
        raise ValueError("overlay SVG without a viewBox")
    x, y, width, height = (float(value) for value in match.groups())
    if width <= 0 or height <= 0:
        raise ValueError("overlay SVG with an empty viewBox")
    return x, y, width, height


def placement(
    overlay: Overlay,
    box: tuple[float, float, float, float],
    right_eye: Point,
    left_eye: Point,
    anchor: Point,
) -> tuple[Point, Point, Point]:
    """Frame pixels of the art's top-left, top-right and bottom-left corners."""
    dx, dy = left_eye[0] - right_eye[0], left_eye[1] - right_eye[1]
    distance = math.hypot(dx, dy) or 1.0
    scale = distance / EYE_DISTANCE_UNITS
    ux, uy = dx / distance, dy / distance  # along the eye line
    vx, vy = -uy, ux  # down the face

    def to_frame(x: float, y: float) -> Point:
        ax, ay = x - overlay.anchor_art[0], y - overlay.anchor_art[1]
        return anchor[0] + scale * (ax * ux + ay * vx), anchor[1] + scale * (ax * uy + ay * vy)

    x, y, width, height = box
    return to_frame(x, y), to_frame(x + width, y), to_frame(x, y + height)


def quad_matrix(corners: tuple[Point, Point, Point]) -> list[float]:
    """Column-major 3x3 taking the unit square to the art's corners (frame pixels)."""
    (x0, y0), (x1, y1), (x2, y2) = corners
    return [x1 - x0, y1 - y0, 0.0, x2 - x0, y2 - y0, 0.0, x0, y0, 1.0]
