"""The YUV -> RGB maths the shaders use for planar video frames (frontend_py/videocolorspace.py)."""

from __future__ import annotations

import pytest

from frontend_py.videocolorspace import convert

LIMITED = [(16, 128, 128), (235, 128, 128), (126, 128, 128)]


def rgb8(yuv: tuple[int, int, int], matrix: str | None, full_range: bool | None) -> tuple[int, ...]:
    return tuple(round(channel * 255) for channel in convert(tuple(v / 255 for v in yuv), matrix, full_range))  # type: ignore[arg-type]


@pytest.mark.parametrize("matrix", [None, "smpte170m", "bt709", "bt470bg", "bt2020-ncl"])
def test_studio_swing_black_grey_white(matrix: str | None) -> None:
    assert rgb8((16, 128, 128), matrix, False) == (0, 0, 0)
    assert rgb8((235, 128, 128), matrix, False) == (255, 255, 255)
    assert rgb8((126, 128, 128), matrix, None) == (128, 128, 128)


def test_full_range_passes_grey_through() -> None:
    for level in (0, 77, 255):
        assert rgb8((level, 128, 128), "bt709", True) == (level, level, level)


# Reference colours: ITU-R BT.601 and BT.709 studio-swing codes for 100% red, green and blue.
@pytest.mark.parametrize(
    ("matrix", "yuv", "rgb"),
    [
        ("smpte170m", (81, 90, 240), (255, 0, 0)),
        ("smpte170m", (145, 54, 34), (0, 255, 0)),
        ("smpte170m", (41, 240, 110), (0, 0, 255)),
        ("bt709", (63, 102, 240), (255, 0, 0)),
        ("bt709", (173, 42, 26), (0, 255, 0)),
        ("bt709", (32, 240, 118), (0, 0, 255)),
    ],
)
def test_primaries(matrix: str, yuv: tuple[int, int, int], rgb: tuple[int, int, int]) -> None:
    assert rgb8(yuv, matrix, False) == pytest.approx(rgb, abs=2)


def test_unknown_matrix_is_bt601() -> None:
    assert rgb8((81, 90, 240), "fcc", False) == rgb8((81, 90, 240), None, False)
