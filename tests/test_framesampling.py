"""The inputs of the models that sample their crop out of a frame (frontend_py/framesampling.py)."""

from __future__ import annotations

import pytest

from frontend_py.facetracking import Crop
from frontend_py.framesampling import Affine, sampling


def to_region_point(theta: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = theta
    return a * x + b * y + c, d * x + e * y + f


def region_to_frame(feed, gx: float, gy: float) -> tuple[float, float]:
    (top, left, _), (bottom, right, _) = feed.region_start, feed.region_end
    return left + (gx + 1) / 2 * (right - left), top + (gy + 1) / 2 * (bottom - top)


@pytest.mark.parametrize("crop", [Crop(320, 240, 150, 0.0), Crop(300, 200, 120, 0.7), Crop(50, 40, 150, -0.4)])
def test_theta_takes_the_inputs_corners_to_the_crops_corners(crop):
    feed = sampling(crop.affine(), 192, 192, 640, 480)
    for (nx, ny), (u, v) in (((-1, -1), (0, 0)), ((1, -1), (192, 0)), ((-1, 1), (0, 192)), ((1, 1), (192, 192))):
        got = region_to_frame(feed, *to_region_point(feed.to_region, nx, ny))
        want = crop.to_frame(u, v)
        assert got == pytest.approx(want, abs=1e-9)


def test_region_is_the_crop_plus_a_pixel_inside_the_frame():
    feed = sampling(Crop(320, 240, 100, 0.0).affine(), 192, 192, 640, 480)
    assert feed.region_start == (189, 269, 0) and feed.region_end == (291, 371, 3)
    clipped = sampling(Crop(20, 470, 100, 0.0).affine(), 192, 192, 640, 480)
    assert clipped.region_start == (419, 0, 0) and clipped.region_end == (480, 71, 3)


def test_a_crop_wholly_outside_the_frame_still_reads_a_pixel():
    feed = sampling(Crop(-500, -500, 100, 0.0).affine(), 192, 192, 640, 480)
    (top, left, _), (bottom, right, _) = feed.region_start, feed.region_end
    assert (top, left) == (0, 0) and bottom - top == 1 and right - left == 1
    far = sampling(Crop(2000, 2000, 100, 0.0).affine(), 192, 192, 640, 480)
    assert far.region_start[:2] == (479, 639) and far.region_end[:2] == (480, 640)


def test_letterbox_covers_the_whole_frame():
    k = 640 / 192
    feed = sampling(Affine(k, 0, 0, 0, k, -80), 192, 192, 640, 480)
    assert feed.region_start == (0, 0, 0) and feed.region_end == (480, 640, 3)
    # The input's top edge is 80 px above the frame: outside the region, sampled as zeros.
    assert to_region_point(feed.to_region, 0, -1)[1] == pytest.approx(-1 - 2 * 80 / 480)
