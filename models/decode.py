"""Decode the full-range face detector's raw outputs into face boxes. Pure Python (no numpy),
so the browser client (Pyodide) can use it as it is.

Ported from MediaPipe's face_detection_full_range graph: SsdAnchorsCalculator (one layer,
stride 4, fixed anchor size, offset 0.5 -> 48 x 48 = 2304 anchors), TensorsToDetections
(scale 192, sigmoid score clipped at +-100, minimum score 0.6) and weighted non-maximum
suppression at IoU 0.3. Coordinates are normalised to the 192x192 (letterboxed) input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INPUT_SIZE = 192
STRIDE = 4
NUM_ANCHORS = (INPUT_SIZE // STRIDE) ** 2  # 2304
NUM_COORDS = 16
NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear, left ear
MIN_SCORE = 0.6
NMS_IOU = 0.3
SCORE_CLIP = 100.0


@dataclass
class Detection:
    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    keypoints: list[tuple[float, float]]


def anchors() -> list[tuple[float, float]]:
    """Anchor centres (x, y), normalised, row by row; width and height are 1 (fixed)."""
    n = INPUT_SIZE // STRIDE
    return [((x + 0.5) / n, (y + 0.5) / n) for y in range(n) for x in range(n)]


ANCHORS = anchors()


def decode(regressors, scores, min_score: float = MIN_SCORE) -> list[Detection]:
    """regressors: flat sequence of 2304*16 floats; scores: flat sequence of 2304 logits.
    Returns the detections above min_score, before suppression."""
    out = []
    # Compare logits first: the browser runs this loop in Pyodide on every detection.
    min_logit = math.log(min_score / (1.0 - min_score))
    for i, (ax, ay) in enumerate(ANCHORS):
        if scores[i] < min_logit:
            continue
        logit = max(-SCORE_CLIP, min(SCORE_CLIP, scores[i]))
        score = 1.0 / (1.0 + math.exp(-logit))
        r = regressors[i * NUM_COORDS:(i + 1) * NUM_COORDS]
        cx = r[0] / INPUT_SIZE + ax
        cy = r[1] / INPUT_SIZE + ay
        w = r[2] / INPUT_SIZE
        h = r[3] / INPUT_SIZE
        kps = [(r[4 + 2 * k] / INPUT_SIZE + ax, r[5 + 2 * k] / INPUT_SIZE + ay)
               for k in range(NUM_KEYPOINTS)]
        out.append(Detection(score, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, kps))
    return out


def iou(a: Detection, b: Detection) -> float:
    ix = max(0.0, min(a.xmax, b.xmax) - max(a.xmin, b.xmin))
    iy = max(0.0, min(a.ymax, b.ymax) - max(a.ymin, b.ymin))
    inter = ix * iy
    union = ((a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin)
             - inter)
    return inter / union if union > 0 else 0.0


def weighted_nms(detections: list[Detection], threshold: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's weighted NMS: each kept face is the score-weighted mean of the boxes
    (and keypoints) that overlap the best remaining one by more than threshold."""
    remaining = sorted(detections, key=lambda d: d.score, reverse=True)
    kept = []
    while remaining:
        best = remaining[0]
        group = [d for d in remaining if iou(best, d) > threshold or d is best]
        remaining = [d for d in remaining if not (iou(best, d) > threshold or d is best)]
        total = sum(d.score for d in group)

        def mean(get, group=group, total=total):
            return sum(get(d) * d.score for d in group) / total

        kept.append(Detection(
            best.score,
            mean(lambda d: d.xmin), mean(lambda d: d.ymin),
            mean(lambda d: d.xmax), mean(lambda d: d.ymax),
            [(mean(lambda d, k=k: d.keypoints[k][0]), mean(lambda d, k=k: d.keypoints[k][1]))
             for k in range(NUM_KEYPOINTS)]))
    return kept


def letterbox(width: int, height: int) -> tuple[float, float, float, float]:
    """Where a width x height frame lies inside the square input, normalised:
    (x offset, y offset, x scale, y scale); the frame is centred, padding on the short side."""
    side = max(width, height)
    sx, sy = width / side, height / side
    return (1 - sx) / 2, (1 - sy) / 2, sx, sy


def unletterbox(d: Detection, width: int, height: int) -> Detection:
    """Map a detection from the letterboxed input back to frame pixels."""
    ox, oy, sx, sy = letterbox(width, height)

    def fx(x):
        return (x - ox) / sx * width

    def fy(y):
        return (y - oy) / sy * height

    return Detection(d.score, fx(d.xmin), fy(d.ymin), fx(d.xmax), fy(d.ymax),
                     [(fx(x), fy(y)) for x, y in d.keypoints])


def detect(regressors, scores, width: int, height: int) -> list[Detection]:
    """Raw outputs of one frame -> faces in frame pixels, best first."""
    return [unletterbox(d, width, height) for d in weighted_nms(decode(regressors, scores))]
