"""YUV -> RGB for a WebCodecs `VideoColorSpace`, as one matrix and offset a shader applies.

Pure Python (runs in CPython for tests): the stage and the pipeline upload video frames as
their Y, U and V planes on software GPUs (frontend_py/webgl.py `VideoTexture`), and convert
in their shaders: rgb = matrix * (yuv - offset), with every value in 0..1 as textures give it.
"""

from __future__ import annotations

# Luma weights (Kr, Kb) by `VideoColorSpace.matrix`. Browsers treat an unspecified matrix of a
# camera or WebRTC frame as BT.601 (smpte170m), as do we.
LUMA_WEIGHTS = {
    "bt709": (0.2126, 0.0722),
    "bt470bg": (0.299, 0.114),
    "smpte170m": (0.299, 0.114),
    "bt2020-ncl": (0.2627, 0.0593),
}
DEFAULT_MATRIX = "smpte170m"


def yuv_to_rgb(matrix: str | None, full_range: bool | None) -> tuple[list[float], tuple[float, float, float]]:
    """The column-major 3x3 matrix and the offset for `matrix` and `full_range` (null: limited)."""
    kr, kb = LUMA_WEIGHTS.get(matrix or DEFAULT_MATRIX, LUMA_WEIGHTS[DEFAULT_MATRIX])
    kg = 1.0 - kr - kb
    if full_range:
        luma_scale, chroma_scale, luma_offset = 1.0, 1.0, 0.0
    else:  # studio swing: luma 16..235, chroma 16..240 out of 255
        luma_scale, chroma_scale, luma_offset = 255 / 219, 255 / 224, 16 / 255
    cr_to_r = 2 * (1 - kr) * chroma_scale
    cb_to_b = 2 * (1 - kb) * chroma_scale
    cb_to_g = -2 * kb * (1 - kb) / kg * chroma_scale
    cr_to_g = -2 * kr * (1 - kr) / kg * chroma_scale
    columns = [
        luma_scale, luma_scale, luma_scale,  # Y
        0.0, cb_to_g, cb_to_b,  # U (Cb)
        cr_to_r, cr_to_g, 0.0,  # V (Cr)
    ]
    return columns, (luma_offset, 128 / 255, 128 / 255)


def convert(yuv: tuple[float, float, float], matrix: str | None, full_range: bool | None) -> tuple[float, float, float]:
    """One pixel through the same maths as the shader (for tests and for checking by hand)."""
    columns, offset = yuv_to_rgb(matrix, full_range)
    centred = [value - shift for value, shift in zip(yuv, offset)]
    rgb = [sum(columns[column * 3 + row] * centred[column] for column in range(3)) for row in range(3)]
    return (min(1.0, max(0.0, rgb[0])), min(1.0, max(0.0, rgb[1])), min(1.0, max(0.0, rgb[2])))
