"""Where a layer lands on a stage of `width` x `height` pixels, and how pointer drags change it.

A layer's local coordinates run over [-0.5, 0.5] on both axes, u to the right and v down, so
its content is the unit square about the origin. Positive rotation turns clockwise on screen,
as canvas `rotate` does. `aspect` is the content's width over its height.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from frontend_py.layout import MAX_SCALE, MIN_SCALE, LayerState, wrap_degrees

Point = tuple[float, float]
Affine = tuple[float, float, float, float, float, float]

HANDLE_RADIUS_PX = 12.0
ROTATE_OFFSET_PX = 32.0
CORNERS: dict[str, Point] = {"nw": (-0.5, -0.5), "ne": (0.5, -0.5), "se": (0.5, 0.5), "sw": (-0.5, 0.5)}
ARROWS = {"ArrowLeft": (-1, 0), "ArrowRight": (1, 0), "ArrowUp": (0, -1), "ArrowDown": (0, 1)}


def size(layer: LayerState, aspect: float, height: float) -> tuple[float, float]:
    """The layer's width and height in pixels."""
    layer_height = layer.scale * height
    return layer_height * aspect, layer_height


def matrix(layer: LayerState, aspect: float, width: float, height: float) -> Affine:
    """Layer-local to stage pixels, as `(a, b, c, d, e, f)` for canvas `setTransform`."""
    w, h = size(layer, aspect, height)
    angle = math.radians(layer.rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    return (w * cos, w * sin, -h * sin, h * cos, layer.x * width, layer.y * height)


def inverse(m: Affine) -> Affine:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if det == 0.0:
        raise ValueError("the matrix has no inverse")
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def map_point(m: Affine, point: Point) -> Point:
    a, b, c, d, e, f = m
    u, v = point
    return (a * u + c * v + e, b * u + d * v + f)


def clip_matrix(layer: LayerState, aspect: float, width: float, height: float) -> list[float]:
    """Column-major 3x3 for a WebGL2 vertex shader: the unit quad about the origin to clip space.

    Clip space has y up where pixels have it down, hence the sign flips on the second row.
    """
    a, b, c, d, e, f = matrix(layer, aspect, width, height)
    sx, sy = 2.0 / width, -2.0 / height
    return [a * sx, b * sy, 0.0, c * sx, d * sy, 0.0, e * sx - 1.0, f * sy + 1.0, 1.0]


def corners(layer: LayerState, aspect: float, width: float, height: float) -> list[Point]:
    """The layer's corners in stage pixels: top left, top right, bottom right, bottom left."""
    m = matrix(layer, aspect, width, height)
    return [map_point(m, corner) for corner in CORNERS.values()]


def contains(layer: LayerState, point: Point, aspect: float, width: float, height: float) -> bool:
    u, v = map_point(inverse(matrix(layer, aspect, width, height)), point)
    return abs(u) <= 0.5 and abs(v) <= 0.5


def hit_test(
    layers: Iterable[LayerState], point: Point, aspects: Mapping[str, float], width: float, height: float
) -> str | None:
    """The id of the topmost layer under the point, or None.

    `layers` run bottom to top, as `Layout.layers` gives them; a layer missing from `aspects` is square.
    """
    hits = [layer.id for layer in layers if contains(layer, point, aspects.get(layer.id, 1.0), width, height)]
    return hits[-1] if hits else None


def handles(
    layer: LayerState, aspect: float, width: float, height: float, offset_px: float = ROTATE_OFFSET_PX
) -> dict[str, Point]:
    """Resize handles at the corners ("nw", "ne", "se", "sw") and "rotate" `offset_px` above the top."""
    m = matrix(layer, aspect, width, height)
    points = {name: map_point(m, corner) for name, corner in CORNERS.items()}
    top_x, top_y = map_point(m, (0.0, -0.5))
    angle = math.radians(layer.rotation)
    points["rotate"] = (top_x + offset_px * math.sin(angle), top_y - offset_px * math.cos(angle))
    return points


def handle_at(
    layer: LayerState,
    point: Point,
    aspect: float,
    width: float,
    height: float,
    radius_px: float = HANDLE_RADIUS_PX,
    offset_px: float = ROTATE_OFFSET_PX,
) -> str | None:
    """The name of the handle nearest the point if it is within `radius_px`, else None."""
    points = handles(layer, aspect, width, height, offset_px)
    distance, name = min((math.dist(spot, point), name) for name, spot in points.items())
    return name if distance <= radius_px else None


def moved(layer: LayerState, dx_px: float, dy_px: float, width: float, height: float) -> dict[str, float]:
    """New x and y after a drag by (dx_px, dy_px), the centre kept on the stage."""
    return {"x": _on_stage(layer.x + dx_px / width), "y": _on_stage(layer.y + dy_px / height)}


def _on_stage(fraction: float) -> float:
    return min(1.0, max(0.0, fraction))


def resized(
    start: LayerState, start_pointer: Point, pointer: Point, width: float, height: float
) -> dict[str, float]:
    """New scale: the scale at the drag's start times how much farther from the centre the pointer is."""
    centre = (start.x * width, start.y * height)
    before = math.dist(centre, start_pointer)
    if before == 0.0:
        return {"scale": start.scale}
    scale = start.scale * math.dist(centre, pointer) / before
    return {"scale": min(MAX_SCALE, max(MIN_SCALE, scale))}


def rotated(
    start: LayerState, start_pointer: Point, pointer: Point, width: float, height: float
) -> dict[str, float]:
    """New rotation: the rotation at the drag's start plus the angle the pointer swept about the centre.

    Measuring from where the drag began keeps a handle grabbed off its middle from jumping.
    """
    cx, cy = start.x * width, start.y * height
    then = math.atan2(start_pointer[1] - cy, start_pointer[0] - cx)
    now = math.atan2(pointer[1] - cy, pointer[0] - cx)
    return {"rotation": wrap_degrees(start.rotation + math.degrees(now - then))}


def nudged(
    layer: LayerState, key: str, width: float, height: float, step_px: float = 1.0
) -> dict[str, float]:
    """New x and y after an arrow key (a `KeyboardEvent.key`); any other key changes nothing."""
    if key not in ARROWS:
        return {}
    dx, dy = ARROWS[key]
    return moved(layer, dx * step_px, dy * step_px, width, height)
