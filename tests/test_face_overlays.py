"""Face tracking geometry and overlay placement, the pure Python the browser runs."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from frontend_py.facetracking import (
    LANDMARK_SIZE,
    MAX_FACES,
    NUM_LANDMARKS,
    REDETECT_FRAMES,
    Crop,
    Face,
    Tracker,
    crop_from_detection,
    roll,
)
from frontend_py.i18n import STRINGS
from frontend_py.overlays import BY_NAME, CATALOGUE, EYE_DISTANCE_UNITS, placement, quad_matrix, view_box
from models.decode import Detection

OVERLAYS = Path(__file__).resolve().parent.parent / "frontend_py" / "overlays"


def detection(cx: float, cy: float, size: float, tilt: float = 0.0) -> Detection:
    half_eye = size * 0.2
    right = (cx - half_eye * math.cos(tilt), cy - half_eye * math.sin(tilt))
    left = (cx + half_eye * math.cos(tilt), cy + half_eye * math.sin(tilt))
    return Detection(0.9, cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2, [right, left, (cx, cy)] + [(cx, cy)] * 3)


def landmark_output(crop: Crop, points: dict[int, tuple[float, float]], fill: tuple[float, float]) -> list[float]:
    """Landmark-model output (crop pixels) placing the given frame points; the rest at `fill`."""
    flat = []
    for index in range(NUM_LANDMARKS):
        x, y = points.get(index, fill)
        # Invert Crop.to_frame.
        c, s = math.cos(crop.angle), math.sin(crop.angle)
        dx, dy = x - crop.cx, y - crop.cy
        u, v = c * dx + s * dy, -s * dx + c * dy
        flat += [(u / crop.size + 0.5) * LANDMARK_SIZE, (v / crop.size + 0.5) * LANDMARK_SIZE, 0.0]
    return flat


def test_crop_from_detection_is_square_enlarged_and_level_with_the_eyes() -> None:
    crop = crop_from_detection(detection(300, 200, 100, tilt=0.3))
    assert (crop.cx, crop.cy) == (300, 200)
    assert crop.size == pytest.approx(150)
    assert crop.angle == pytest.approx(0.3)


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.2])
def test_uv_matrix_agrees_with_to_frame(angle: float) -> None:
    crop = Crop(320, 240, 120, angle)
    m = crop.uv_matrix(640, 480)
    for x, y in ((0, 0), (192, 0), (0, 192), (96, 50)):
        fx, fy = crop.to_frame(x, y)
        assert m[0] * x + m[3] * y + m[6] == pytest.approx(fx / 640)
        assert m[1] * x + m[4] * y + m[7] == pytest.approx(fy / 480)


def test_roll_is_the_eye_line_angle() -> None:
    assert roll((0, 0), (10, 0)) == 0
    assert roll((0, 0), (10, 10)) == pytest.approx(math.pi / 4)


def test_landmarks_land_in_the_frame_and_steer_the_next_crop() -> None:
    tracker = Tracker()
    assert tracker.needs_detection()
    (face,) = tracker.detected([detection(300, 200, 100)])
    eyes = {33: (270, 205), 133: (290, 205), 362: (310, 215), 263: (330, 215)}
    flat = landmark_output(face.crop, eyes, (300, 230))
    assert tracker.landmarks(face, flat, logit=3.0)
    right, left = face.eyes()
    assert right == pytest.approx((280, 205), abs=1e-3) and left == pytest.approx((320, 215), abs=1e-3)
    assert face.crop.angle == pytest.approx(math.atan2(10, 40))
    assert not tracker.needs_detection()


def test_a_face_is_dropped_when_its_score_falls_and_detection_runs_again() -> None:
    tracker = Tracker()
    (face,) = tracker.detected([detection(300, 200, 100)])
    assert not tracker.landmarks(face, [96.0] * (3 * NUM_LANDMARKS), logit=-4.0)
    assert tracker.faces == [] and tracker.needs_detection()


def test_several_faces_are_tracked_without_duplicates_and_newcomers_are_looked_for() -> None:
    tracker = Tracker()
    found = tracker.detected([detection(150, 200, 80), detection(450, 200, 80), detection(152, 201, 80)])
    assert len(found) == 2
    again = tracker.detected([detection(151, 199, 80), detection(600, 100, 60)])
    assert len(again) == 1 and len(tracker.faces) == 3
    tracker.detected([detection(40 + 100 * i, 400, 50) for i in range(6)])
    assert len(tracker.faces) == MAX_FACES
    for _ in range(REDETECT_FRAMES):
        tracker.next_frame()
    assert not tracker.needs_detection()  # full: no newcomer can be added


def test_every_overlay_has_art_a_view_box_and_a_name_in_each_language() -> None:
    assert len(CATALOGUE) >= 8
    for overlay in CATALOGUE:
        svg = (OVERLAYS / f"{overlay.name}.svg").read_text()
        _, _, width, height = view_box(svg)
        assert width > 0 and height > 0
        assert not re.search(r"<script|href\s*=\s*\"(?!#)|<image", svg), overlay.name
        for language in STRINGS:
            assert STRINGS[language][f"overlay.{overlay.name}"]


def test_view_box_parsing_rejects_art_without_one() -> None:
    assert view_box('<svg viewBox="-10 -20.5 30 40">') == (-10, -20.5, 30, 40)
    with pytest.raises(ValueError):
        view_box("<svg width='10'>")
    with pytest.raises(ValueError):
        view_box('<svg viewBox="0 0 0 10">')


@pytest.mark.parametrize("tilt", [0.0, 0.35, -0.6])
def test_glasses_follow_the_eyes_scale_and_roll(tilt: float) -> None:
    sunglasses = BY_NAME["sunglasses"]
    right = (200.0, 150.0)
    distance = 80.0
    left = (right[0] + distance * math.cos(tilt), right[1] + distance * math.sin(tilt))
    middle = ((right[0] + left[0]) / 2, (right[1] + left[1]) / 2)
    box = (-100.0, -25.0, 200.0, 50.0)
    top_left, top_right, bottom_left = placement(sunglasses, box, right, left, middle)
    # Width in pixels = art width scaled by eye distance; the top edge turns with the eyes.
    assert math.dist(top_left, top_right) == pytest.approx(200 * distance / EYE_DISTANCE_UNITS)
    assert math.atan2(top_right[1] - top_left[1], top_right[0] - top_left[0]) == pytest.approx(tilt)
    # Art point (-50, 0) and (50, 0), the lens centres, land on the eyes.
    m = quad_matrix((top_left, top_right, bottom_left))
    for art_x, eye in ((-50.0, right), (50.0, left)):
        u, v = (art_x - box[0]) / box[2], (0 - box[1]) / box[3]
        assert (m[0] * u + m[3] * v + m[6], m[1] * u + m[4] * v + m[7]) == pytest.approx(eye)


def test_a_hat_sits_on_the_forehead_landmark() -> None:
    hat = BY_NAME["hat"]
    forehead = (300.0, 60.0)
    box = (-110.0, -294.0, 220.0, 189.0)
    top_left, top_right, bottom_left = placement(hat, box, (260.0, 120.0), (340.0, 120.0), forehead)
    # The art's anchor (0, -95) is at the forehead: bottom edge (y = -105) just below it.
    bottom_middle = ((bottom_left[0] + top_right[0]) / 2, bottom_left[1])
    assert bottom_middle[0] == pytest.approx(300.0)
    assert bottom_left[1] == pytest.approx(60.0 + (-105 + 95) * 0.8)
    assert top_left[1] < forehead[1]


def test_face_update_needs_every_landmark() -> None:
    face = Face(Crop(100, 100, 100, 0.0))
    face.update([96.0] * (3 * NUM_LANDMARKS))
    assert len(face.landmarks) == NUM_LANDMARKS
