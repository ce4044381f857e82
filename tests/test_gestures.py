"""Two-finger pinch and twist, and the double tap, as the stage's touch input uses them."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from frontend_py.gestures import DOUBLE_TAP_MS, TAP_MAX_MS, DoubleTap, pinched
from frontend_py.layout import MAX_SCALE, MIN_SCALE, LayerState
from frontend_py.transform import inverse, map_point, matrix

W, H = 1280.0, 720.0
LAYER = LayerState(id="p", kind="person", x=0.5, y=0.5, scale=0.4, rotation=0.0)


def rotate_about(point: tuple[float, float], centre: tuple[float, float], degrees: float, factor: float = 1.0) -> tuple[float, float]:
    angle = math.radians(degrees)
    dx, dy = point[0] - centre[0], point[1] - centre[1]
    return (centre[0] + factor * (dx * math.cos(angle) - dy * math.sin(angle)),
            centre[1] + factor * (dx * math.sin(angle) + dy * math.cos(angle)))


def test_spreading_the_fingers_twice_as_far_doubles_the_size_in_place() -> None:
    first = ((540.0, 360.0), (740.0, 360.0))
    now = ((440.0, 360.0), (840.0, 360.0))
    assert pinched(LAYER, first, now, W, H) == {"x": 0.5, "y": 0.5, "scale": 0.8, "rotation": 0.0}


def test_a_clockwise_twist_turns_the_layer_clockwise() -> None:
    first = ((540.0, 360.0), (740.0, 360.0))
    now = (rotate_about(first[0], (640, 360), 30), rotate_about(first[1], (640, 360), 30))
    values = pinched(LAYER, first, now, W, H)
    assert math.isclose(values["rotation"], 30.0, abs_tol=1e-9)
    assert math.isclose(values["scale"], 0.4)
    assert math.isclose(values["x"], 0.5) and math.isclose(values["y"], 0.5)


def test_fingers_that_move_together_carry_the_layer() -> None:
    first = ((540.0, 300.0), (740.0, 300.0))
    now = ((668.0, 372.0), (868.0, 372.0))
    values = pinched(LAYER, first, now, W, H)
    assert math.isclose(values["x"], 0.6) and math.isclose(values["y"], 0.6)


@given(
    turn=st.floats(-170, 170),
    factor=st.floats(0.5, 2.0),
    shift=st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
)
def test_the_spot_under_the_fingers_stays_under_them(turn: float, factor: float, shift: tuple[float, float]) -> None:
    """Pinch, twist and carry at once: the content point under the midpoint follows the midpoint."""
    layer = LayerState(id="p", kind="person", x=0.45, y=0.55, scale=0.5, rotation=10.0)
    first = ((560.0, 380.0), (700.0, 420.0))
    middle = (630.0, 400.0)
    moved_middle = (middle[0] + shift[0], middle[1] + shift[1])
    now = tuple(
        (p[0] + shift[0], p[1] + shift[1]) for p in (rotate_about(q, middle, turn, factor) for q in first)
    )
    values = pinched(layer, first, now, W, H)  # type: ignore[arg-type]
    after = LayerState(**{**layer.__dict__, **values})
    content_before = map_point(inverse(matrix(layer, 1.0, W, H)), middle)
    content_after = map_point(inverse(matrix(after, 1.0, W, H)), moved_middle)
    assert math.isclose(content_before[0], content_after[0], abs_tol=1e-6)
    assert math.isclose(content_before[1], content_after[1], abs_tol=1e-6)


def test_scale_is_clamped_and_fingers_on_one_spot_change_nothing() -> None:
    first = ((600.0, 360.0), (680.0, 360.0))
    assert pinched(LAYER, first, ((0.0, 360.0), (1280.0, 360.0)), W, H)["scale"] <= MAX_SCALE
    tiny = LayerState(id="p", kind="person", scale=MIN_SCALE)
    assert pinched(tiny, first, ((638.0, 360.0), (648.0, 360.0)), W, H)["scale"] == MIN_SCALE
    assert pinched(LAYER, ((640.0, 360.0), (641.0, 360.0)), first, W, H) == {}
    assert pinched(LAYER, first, ((640.0, 360.0), (642.0, 361.0)), W, H) == {}


def test_the_centre_stays_on_the_stage() -> None:
    first = ((600.0, 360.0), (680.0, 360.0))
    values = pinched(LAYER, first, ((5000.0, -900.0), (5080.0, -900.0)), W, H)
    assert values["x"] == 1.0 and values["y"] == 0.0


def test_two_quick_taps_in_one_spot_are_a_double_tap() -> None:
    taps = DoubleTap()
    taps.down(0, (100, 100))
    assert not taps.up(80, (101, 100))
    taps.down(200, (105, 102))
    assert taps.up(260, (105, 103))
    taps.down(400, (105, 102))  # a third tap starts afresh
    assert not taps.up(450, (105, 102))


def test_slow_far_or_dragged_taps_are_not_a_double_tap() -> None:
    taps = DoubleTap()
    taps.down(0, (100, 100)); taps.up(50, (100, 100))
    taps.down(50 + DOUBLE_TAP_MS + 100, (100, 100))
    assert not taps.up(50 + DOUBLE_TAP_MS + 150, (100, 100))  # too late after the first

    taps = DoubleTap()
    taps.down(0, (100, 100)); taps.up(50, (100, 100))
    taps.down(100, (200, 100))
    assert not taps.up(150, (200, 100))  # elsewhere

    taps = DoubleTap()
    taps.down(0, (100, 100)); taps.up(50, (100, 100))
    taps.down(100, (100, 100))
    assert not taps.up(150, (140, 100))  # a drag, not a tap

    taps = DoubleTap()
    taps.down(0, (100, 100)); taps.up(TAP_MAX_MS + 10, (100, 100))  # a press
    taps.down(TAP_MAX_MS + 50, (100, 100))
    assert not taps.up(TAP_MAX_MS + 90, (100, 100))

    taps = DoubleTap()
    taps.down(0, (100, 100)); taps.up(50, (100, 100))
    taps.cancel()  # a second finger came down
    taps.down(100, (100, 100))
    assert not taps.up(150, (100, 100))
