"""Face tracking for several faces: the geometry between detections, crops and landmarks.

Pure Python (CPython tests run it as is). MediaPipe's FaceMesh scheme: a detection gives the
first crop (box x1.5, rotated so the eyes are level); after that each frame's landmarks give
the next frame's crop, until the landmark model's face score says the face is gone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from frontend_py.framesampling import Affine
from models.decode import Detection

LANDMARK_SIZE = 192
NUM_LANDMARKS = 468
CROP_SCALE = 1.5
FACE_SCORE = 0.5  # after the sigmoid; below it the crop no longer holds a face
MAX_FACES = 4
SAME_FACE_IOU = 0.3
REDETECT_FRAMES = 90  # look for newcomers every ~3 s while some faces are tracked

# The subject's right eye is on the image's left.
RIGHT_EYE = (33, 133)
LEFT_EYE = (362, 263)

Point = tuple[float, float]


@dataclass
class Crop:
    """A square region of the frame in frame pixels, turned by `angle` (radians)."""

    cx: float
    cy: float
    size: float
    angle: float

    def to_frame(self, x: float, y: float) -> Point:
        """A point in landmark-input pixels (0..192) -> frame pixels."""
        return self.affine()(x, y)

    def all_to_frame(self, xs: Sequence[float], ys: Sequence[float]) -> list[Point]:
        """Many points at once (468 landmarks every frame: the turn is worked out once, and
        applied inline, since a call per point costs more than the arithmetic in Pyodide)."""
        a = self.affine()
        x_u, x_v, x_0, y_u, y_v, y_0 = a.x_u, a.x_v, a.x_0, a.y_u, a.y_v, a.y_0
        return [(x_u * x + x_v * y + x_0, y_u * x + y_v * y + y_0) for x, y in zip(xs, ys)]

    def affine(self) -> Affine:
        """Landmark-input pixels -> frame pixels."""
        k = self.size / LANDMARK_SIZE
        c, s = math.cos(self.angle) * k, math.sin(self.angle) * k
        half = LANDMARK_SIZE / 2
        return Affine(c, -s, self.cx - (c - s) * half, s, c, self.cy - (s + c) * half)

    def uv_matrix(self, width: int, height: int) -> list[float]:
        """Column-major 3x3 from landmark-input pixels to frame uv, for the tensor shader."""
        return self.affine().uv_matrix(width, height)

    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds (xmin, ymin, xmax, ymax) of the turned square."""
        corners = [self.to_frame(x, y) for x in (0, LANDMARK_SIZE) for y in (0, LANDMARK_SIZE)]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        return min(xs), min(ys), max(xs), max(ys)


def roll(right_eye: Point, left_eye: Point) -> float:
    """The head's roll: the angle of the eye line in the frame."""
    return math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])


def crop_from_detection(detection: Detection) -> Crop:
    width, height = detection.xmax - detection.xmin, detection.ymax - detection.ymin
    return Crop(
        (detection.xmin + detection.xmax) / 2,
        (detection.ymin + detection.ymax) / 2,
        max(width, height) * CROP_SCALE,
        roll(detection.keypoints[0], detection.keypoints[1]),
    )


def mean_point(points: Sequence[Point]) -> Point:
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


@dataclass
class Face:
    """A tracked face: the crop to look at next, and the last landmarks in frame pixels."""

    crop: Crop
    landmarks: list[Point] = field(default_factory=list)

    def eyes(self) -> tuple[Point, Point]:
        """Centres of the subject's right and left eye."""
        return (
            mean_point([self.landmarks[i] for i in RIGHT_EYE]),
            mean_point([self.landmarks[i] for i in LEFT_EYE]),
        )

    def update(self, flat: Sequence[float]) -> None:
        """Take the landmark model's 1404 numbers (x, y, z per point, in crop pixels)."""
        xs, ys = flat[0::3], flat[1::3]
        self.landmarks = self.crop.all_to_frame(xs, ys)
        # The next crop comes from these landmarks' bounds in the crop's own (turned) axes.
        centre = self.crop.to_frame((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
        extent = max(max(xs) - min(xs), max(ys) - min(ys)) * self.crop.size / LANDMARK_SIZE
        self.crop = Crop(centre[0], centre[1], extent * CROP_SCALE, roll(*self.eyes()))


def face_score(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-100.0, min(100.0, logit))))


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (xmin, ymin, xmax, ymax) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Which faces to follow, and when the (costlier) detector must look again."""

    def __init__(self) -> None:
        self.faces: list[Face] = []
        self.frames_since_detection = 0

    def needs_detection(self) -> bool:
        if not self.faces:
            return True
        return len(self.faces) < MAX_FACES and self.frames_since_detection >= REDETECT_FRAMES

    def detected(self, detections: list[Detection]) -> list[Face]:
        """Start tracking the detections that are not already tracked faces; returns those."""
        self.frames_since_detection = 0
        found = []
        for detection in detections:
            if len(self.faces) >= MAX_FACES:
                break
            crop = crop_from_detection(detection)
            if all(overlap(crop.box(), face.crop.box()) < SAME_FACE_IOU for face in self.faces):
                face = Face(crop)
                self.faces.append(face)
                found.append(face)
        return found

    def landmarks(self, face: Face, flat: Sequence[float], logit: float) -> bool:
        """Feed one face's landmark output; False (and the face dropped) when it is lost."""
        if face_score(logit) < FACE_SCORE:
            self.faces.remove(face)
            return False
        face.update(flat)
        # Two crops that drifted onto the same face would draw its overlay twice.
        for other in self.faces:
            if other is not face and other.landmarks and overlap(other.crop.box(), face.crop.box()) > SAME_FACE_IOU:
                self.faces.remove(face)
                return False
        return True

    def next_frame(self) -> None:
        self.frames_since_detection += 1
