"""Maps from a model's input pixels to a camera frame, and what a model that samples its input
out of the frame is given besides the frame.

The `*_frame` face models (models/recipe.py, `take_crops`) take the frame's RGBA bytes, the
region of it their input can reach, and AffineGrid's theta: the map from their input's
normalised coordinates to the region's. Only the region is converted to floats in the graph,
so it is kept as small as the crop allows. Pure Python: tested in CPython.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Affine:
    """Model input pixel (u, v) -> frame pixel (x_u*u + x_v*v + x_0, y_u*u + y_v*v + y_0)."""

    x_u: float
    x_v: float
    x_0: float
    y_u: float
    y_v: float
    y_0: float

    def __call__(self, u: float, v: float) -> tuple[float, float]:
        return self.x_u * u + self.x_v * v + self.x_0, self.y_u * u + self.y_v * v + self.y_0

    def uv_matrix(self, width: int, height: int) -> list[float]:
        """The same map to frame uv (0..1) as a column-major 3x3, for a shader (GPU sampling)."""
        return [self.x_u / width, self.y_u / height, 0.0, self.x_v / width, self.y_v / height, 0.0,
                self.x_0 / width, self.y_0 / height, 1.0]


@dataclass(frozen=True)
class Sampling:
    """The three extra inputs: region_start and region_end (rows, columns, channels 0..3 of the
    NHWC frame) and to_region (AffineGrid's 2x3 theta, row by row; coordinates normalised to
    -1..1 with align_corners 0, so -1 and 1 are the outer edges of the first and last pixel)."""

    region_start: tuple[int, int, int]
    region_end: tuple[int, int, int]
    to_region: tuple[float, float, float, float, float, float]


def sampling(to_frame: Affine, input_width: int, input_height: int, frame_width: int, frame_height: int) -> Sampling:
    corners = [to_frame(u, v) for u in (0, input_width) for v in (0, input_height)]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    # One pixel more on each side: bilinear sampling near the crop's edge reads its neighbours.
    left, right = _span(min(xs), max(xs), frame_width)
    top, bottom = _span(min(ys), max(ys), frame_height)
    w, h = right - left, bottom - top
    # Input pixel u = (x_n + 1) * input_width / 2; region coordinate = 2 * (x - left) / w - 1.
    half_w, half_h = input_width / 2, input_height / 2
    to_region = (
        to_frame.x_u * half_w * 2 / w,
        to_frame.x_v * half_h * 2 / w,
        2 * (to_frame.x_u * half_w + to_frame.x_v * half_h + to_frame.x_0 - left) / w - 1,
        to_frame.y_u * half_w * 2 / h,
        to_frame.y_v * half_h * 2 / h,
        2 * (to_frame.y_u * half_w + to_frame.y_v * half_h + to_frame.y_0 - top) / h - 1,
    )
    return Sampling((top, left, 0), (bottom, right, 3), to_region)


def _span(low: float, high: float, size: int) -> tuple[int, int]:
    """Whole pixels covering low..high plus one on each side, inside 0..size, never empty
    (a crop wholly outside the frame reads one edge pixel, and samples zeros)."""
    start = min(max(math.floor(low) - 1, 0), size - 1)
    end = max(min(math.ceil(high) + 1, size), start + 1)
    return start, end
