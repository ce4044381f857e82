"""Where a newcomer first stands: beside the layers already on the stage, not on top of them.

Geometry here is in stage heights: the stage is `stage_aspect` wide and 1 tall.
"""

from __future__ import annotations

from collections.abc import Mapping

from frontend_py.layout import LayerState
from frontend_py.transform import corners

MAX_PEOPLE = 6
MAX_PERSON_SCALE = 0.9
GAP = 0.02  # between people and at the sides, as a fraction of the stage width
FLOOR = 0.02  # under everyone's feet, as a fraction of the stage height
BISECTIONS = 12
TOUCHING = 1e-12  # an overlap this small is rounding where two boxes share an edge
MIN_PLACE_SCALE = 0.05

Box = tuple[float, float, float, float]  # left, top, right, bottom
Place = tuple[float, float, float]  # x, y, scale as in LayerState


def default_place(
    existing: list[LayerState],
    content_aspect: float,
    stage_aspect: float,
    aspects: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """x, y, scale, rotation, opacity and z for a newcomer whose content is `content_aspect` wide.

    The newcomer takes the first free slot of one row of equal slots, one per person counting
    itself, feet on the floor; if every slot is taken, the biggest free place, lowest first,
    then nearest the middle (sitting on others' heads, like the back row of a group photo); if
    the stage is full, the row's slot that overlaps the others least.
    `aspects` gives the existing layers' content aspects; a missing one is `content_aspect`.
    """
    known = aspects or {}
    taken = [_bounds(layer, known.get(layer.id, content_aspect), stage_aspect) for layer in existing]
    people = 1 + sum(layer.kind == "person" for layer in existing)
    scale = _row_scale(people, content_aspect, stage_aspect)
    row = [((i + 0.5) / people, 1 - FLOOR - scale / 2, scale) for i in range(people)]

    def overlap(place: Place) -> float:
        box = _box(place, content_aspect, stage_aspect)
        return sum(_overlap(box, other) for other in taken)

    place = next((place for place in row if overlap(place) < TOUCHING), None)
    fair = min(scale, _row_scale(MAX_PEOPLE, content_aspect, stage_aspect))
    x, y, scale = place or _biggest_free(taken, fair, content_aspect, stage_aspect) or min(row, key=overlap)
    z = 1.0 + max((layer.z for layer in existing), default=0.0)
    return {"x": x, "y": y, "scale": scale, "rotation": 0.0, "opacity": 1.0, "z": z}


def row_places(people: int, content_aspect: float, stage_aspect: float) -> list[dict[str, float]]:
    """One row of `people` equal slots, feet on the floor, left to right: the booth's own
    arrangement of everyone nobody has moved by hand."""
    scale = _row_scale(max(1, people), content_aspect, stage_aspect)
    return [{"x": (i + 0.5) / people, "y": 1 - FLOOR - scale / 2, "scale": scale} for i in range(people)]


def _row_scale(people: int, content_aspect: float, stage_aspect: float) -> float:
    return min(MAX_PERSON_SCALE, stage_aspect * (1 - (people + 1) * GAP) / people / content_aspect)


def _biggest_free(
    taken: list[Box], largest: float, content_aspect: float, stage_aspect: float
) -> Place | None:
    # Walls are the layers grown by the gaps, so that a free place keeps its distance.
    walls = [_grown(box, GAP * stage_aspect, FLOOR) for box in taken]
    best = _free_spot(walls, largest, content_aspect, stage_aspect)
    if best is not None:
        return best
    low, high = min(MIN_PLACE_SCALE, largest), largest
    best = _free_spot(walls, low, content_aspect, stage_aspect)
    if best is None:
        return None
    # Being free is monotonic in scale (a smaller box fits where a bigger one did), so bisect.
    for _ in range(BISECTIONS):
        middle = (low + high) / 2
        spot = _free_spot(walls, middle, content_aspect, stage_aspect)
        if spot is None:
            high = middle
        else:
            low, best = middle, spot
    return best


def _free_spot(walls: list[Box], scale: float, content_aspect: float, stage_aspect: float) -> Place | None:
    # A free box can always slide down and left until it meets the floor or a wall, so trying
    # every left edge against every bottom edge misses no free place. Right-aligned edges are
    # tried too, so that a place against a wall's left side is found as readily.
    width = scale * content_aspect
    low_x, high_x = GAP * stage_aspect, (1 - GAP) * stage_aspect - width
    lefts = [low_x, high_x, *(wall[2] for wall in walls), *(wall[0] - width for wall in walls)]
    bottoms = [1 - FLOOR, *(wall[1] for wall in walls)]
    spots = [
        (left + width / 2, bottom - scale / 2)
        for left in lefts
        for bottom in bottoms
        if low_x <= left <= high_x and scale <= bottom <= 1 - FLOOR
    ]
    spots.sort(key=lambda spot: (-spot[1], abs(spot[0] - stage_aspect / 2), spot[0]))
    for x, y in spots:
        box = (x - width / 2, y - scale / 2, x + width / 2, y + scale / 2)
        if all(_overlap(box, wall) < TOUCHING for wall in walls):
            return x / stage_aspect, y, scale
    return None


def _box(place: Place, content_aspect: float, stage_aspect: float) -> Box:
    x, y, scale = place
    half_width, half_height = scale * content_aspect / 2, scale / 2
    return (x * stage_aspect - half_width, y - half_height, x * stage_aspect + half_width, y + half_height)


def _grown(box: Box, dx: float, dy: float) -> Box:
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy)


def _bounds(layer: LayerState, content_aspect: float, stage_aspect: float) -> Box:
    xs, ys = zip(*corners(layer, content_aspect, stage_aspect, 1.0))
    return (min(xs), min(ys), max(xs), max(ys))


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
