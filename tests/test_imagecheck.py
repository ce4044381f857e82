"""Custom backgrounds checked by content: real files from Pillow, and crafted or broken ones."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from frontend_py.imagecheck import (
    HEADER_BYTES,
    MAX_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    MIN_SIDE,
    ImageInfo,
    ImageRejected,
    fit_cover,
    inspect,
)

KEYS = {
    "background.not_image",
    "background.too_big",
    "background.truncated",
    "background.too_many_pixels",
    "background.too_small",
}


def picture(size: tuple[int, int], alpha: bool = False) -> Image.Image:
    """Many colours, so that encoders can't collapse it into something trivially small."""
    bands = [
        Image.linear_gradient("L").resize(size),
        Image.radial_gradient("L").resize(size),
        Image.linear_gradient("L").rotate(90).resize(size),
    ]
    image = Image.merge("RGB", bands)
    if alpha:
        image.putalpha(Image.radial_gradient("L").resize(size))
    return image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def exif() -> bytes:
    tags = Image.Exif()
    tags[0x010F] = "CLOV"  # Make
    tags[0x0112] = 6  # Orientation: the browser turns it, the stored size is what SOF says
    return tags.tobytes()


ENCODINGS = {
    "png": ("png", "PNG", {}, False),
    "jpeg-baseline": ("jpeg", "JPEG", {"quality": 85, "exif": exif(), "comment": b"CLOV"}, False),
    "jpeg-progressive": (
        "jpeg",
        "JPEG",
        {"progressive": True, "exif": exif(), "icc_profile": b"x" * 600},
        False,
    ),
    "webp-lossy": ("webp", "WEBP", {"quality": 80}, False),
    "webp-lossless": ("webp", "WEBP", {"lossless": True}, False),
    "webp-alpha": ("webp", "WEBP", {"quality": 80}, True),
    "gif": ("gif", "GIF", {}, False),
}


def make(kind: str, size: tuple[int, int] = (64, 48)) -> bytes:
    _, fmt, options, alpha = ENCODINGS[kind]
    image = picture(size, alpha)
    return encode(image.convert("P") if fmt == "GIF" else image, fmt, **options)


def check(data: bytes) -> ImageInfo:
    return inspect(data[:HEADER_BYTES], len(data))


def rejected(head: bytes, size_bytes: int | None = None) -> str:
    with pytest.raises(ImageRejected) as caught:
        inspect(head, len(head) if size_bytes is None else size_bytes)
    return caught.value.key


def png_bytes(width: int, height: int, ihdr_crc: int | None = None) -> bytes:
    """A PNG's signature and IHDR, with a correct CRC unless another is given, and a stub after it."""
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = zlib.crc32(body) if ihdr_crc is None else ihdr_crc
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body + struct.pack(">I", crc) + b"\0" * 40


def sof_offset(data: bytes) -> int:
    return min(i for i in (data.find(b"\xff\xc0"), data.find(b"\xff\xc2")) if i >= 0)


@pytest.mark.parametrize("kind", ENCODINGS)
@pytest.mark.parametrize("size", [(64, 48), (17, 300), (1001, 16)])
def test_real_files_are_recognised(kind: str, size: tuple[int, int]) -> None:
    assert check(make(kind, size)) == ImageInfo(ENCODINGS[kind][0], *size)


def test_the_encodings_cover_what_they_claim_to() -> None:
    for kind, chunk in [("webp-lossy", b"VP8 "), ("webp-lossless", b"VP8L"), ("webp-alpha", b"VP8X")]:
        assert make(kind)[12:16] == chunk
    for kind in ("jpeg-baseline", "jpeg-progressive"):
        data = make(kind)
        assert b"Exif\0\0" in data[: sof_offset(data)]
    progressive = make("jpeg-progressive")
    assert progressive[sof_offset(progressive) + 1] == 0xC2
    assert b"ICC_PROFILE" in progressive[: sof_offset(progressive)]


def test_a_short_head_of_a_large_file_is_enough() -> None:
    data = make("jpeg-baseline")
    assert inspect(data[:1024], 5 * 1024 * 1024) == ImageInfo("jpeg", 64, 48)


def test_content_decides_not_the_name(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_bytes(make("png"))
    with path.open("rb") as file:
        head = file.read(HEADER_BYTES)
    assert inspect(head, path.stat().st_size).format == "png"


def test_jpeg_fill_bytes_and_standalone_markers_are_walked_over() -> None:
    data = make("jpeg-baseline")
    # TEM, RST0, then fill bytes in front of the APP0 marker that follows.
    crafted = data[:2] + b"\xff\x01\xff\xd0\xff\xff\xff" + data[2:]
    assert check(crafted) == ImageInfo("jpeg", 64, 48)


def test_jpeg_sof_beyond_the_head_is_truncated() -> None:
    data = make("jpeg-baseline")
    app = b"\xff\xe9" + struct.pack(">H", 0xFFFF) + b"\0" * 0xFFFD
    crafted = data[:2] + app * 5 + data[2:]
    assert len(crafted) > HEADER_BYTES
    assert rejected(crafted[:HEADER_BYTES], len(crafted)) == "background.truncated"
    assert inspect(crafted, len(crafted)) == ImageInfo("jpeg", 64, 48)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, world\n",
        b"\xef\xbb\xbfjust some UTF-8 text",
        b"<!DOCTYPE html>\n<html><body><img src=x onerror=alert(1)></body></html>",
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9000" height="9000"/>',
        b'  <svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"GIF90a" + b"\0" * 20,
        b"\x89PNX\r\n\x1a\n" + b"\0" * 30,
        b"\xff\xd8",
        b"\x00\x00\x00\x1cftypavif",
    ],
)
def test_what_is_not_an_image(head: bytes) -> None:
    assert rejected(head) == "background.not_image"


@pytest.mark.parametrize("kind", ENCODINGS)
@pytest.mark.parametrize("cut", [10, 20, 30])
def test_files_cut_short_are_truncated(kind: str, cut: int) -> None:
    assert rejected(make(kind)[:cut]) == "background.truncated"


@pytest.mark.parametrize("kind", ["jpeg-baseline", "jpeg-progressive"])
def test_jpeg_cut_before_its_frame_header_is_truncated(kind: str) -> None:
    data = make(kind)
    assert rejected(data[: sof_offset(data) + 5]) == "background.truncated"


@pytest.mark.parametrize(
    "head",
    [
        png_bytes(64, 48, ihdr_crc=0),
        png_bytes(64, 48).replace(b"IHDR", b"IHDx"),
        png_bytes(64, 48).replace(b"\x00\x00\x00\x0dIHDR", b"\x00\x00\x00\x0eIHDR"),
        png_bytes(0, 48),
        png_bytes(64, 0),
    ],
    ids=["bad-crc", "not-ihdr", "bad-length", "zero-width", "zero-height"],
)
def test_broken_png_headers_are_truncated(head: bytes) -> None:
    assert rejected(head) == "background.truncated"


def test_broken_jpeg_structure_is_truncated() -> None:
    data = make("jpeg-baseline")
    at = sof_offset(data)
    assert data[2:4] == b"\xff\xe0" and data[4:6] == b"\x00\x10"  # APP0, then a marker at 20
    assert rejected(data[:20] + b"\x00" + data[21:]) == "background.truncated"
    assert rejected(data[:2] + b"\xff\xe0\x00\x01" + data[4:]) == "background.truncated"  # length < 2
    assert rejected(data[:2] + b"\xff\xd9" + data[2:]) == "background.truncated"  # EOI before SOF
    assert rejected(data[: at + 9] + b"\x00" + data[at + 10 :]) == "background.truncated"  # no components
    assert rejected(data[: at + 5] + b"\x00\x00" + data[at + 7 :]) == "background.truncated"  # height 0


def test_broken_webp_and_gif_structure_is_truncated() -> None:
    webp = make("webp-lossy")
    assert rejected(webp, len(webp) - 1) == "background.truncated"  # shorter than its RIFF size
    assert rejected(webp[:12] + b"ALPH" + webp[16:]) == "background.truncated"
    assert rejected(webp[:23] + b"\x9d\x01\x2b" + webp[26:]) == "background.truncated"
    lossless = make("webp-lossless")
    assert rejected(lossless[:20] + b"\x2e" + lossless[21:]) == "background.truncated"
    gif = make("gif")
    table = 3 << ((gif[10] & 7) + 1)
    assert rejected(gif[: 13 + table] + b";") == "background.truncated"  # the trailer and no image


@pytest.mark.parametrize(
    ("width", "height"),
    [(20_000, 20_000), (50_000, 1), (MAX_SIDE + 1, MIN_SIDE), (MAX_SIDE, 3334), (2**32 - 1, 2**32 - 1)],
)
def test_too_many_pixels(width: int, height: int) -> None:
    assert rejected(png_bytes(width, height)) == "background.too_many_pixels"


@pytest.mark.parametrize(("width", "height"), [(MAX_SIDE, 3333), (MIN_SIDE, MIN_SIDE), (MIN_SIDE, MAX_SIDE)])
def test_sizes_at_the_limits_pass(width: int, height: int) -> None:
    assert width * height <= MAX_PIXELS
    assert inspect(png_bytes(width, height), 100) == ImageInfo("png", width, height)


@pytest.mark.parametrize("kind", ENCODINGS)
def test_too_small(kind: str) -> None:
    assert rejected(make(kind, (4, 4))) == "background.too_small"
    assert rejected(make(kind, (MIN_SIDE - 1, 64))) == "background.too_small"


def test_too_big_is_decided_before_anything_else() -> None:
    data = make("png")
    assert inspect(data, MAX_BYTES) == ImageInfo("png", 64, 48)
    assert rejected(data, 16 * 1024 * 1024) == "background.too_big"
    assert rejected(b"", MAX_BYTES + 1) == "background.too_big"
    assert rejected(png_bytes(50_000, 1), MAX_BYTES + 1) == "background.too_big"


def test_the_key_is_also_the_message() -> None:
    error = ImageRejected("background.too_small")
    assert error.key == str(error) == "background.too_small"


SIGNATURES = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF\0\0\0\0WEBP", b""]
SAMPLES = [make(kind) for kind in ENCODINGS]


def assert_sane(head: bytes, size_bytes: int) -> None:
    try:
        info = inspect(head, size_bytes)
    except ImageRejected as error:
        assert error.key in KEYS
    else:
        assert MIN_SIDE <= min(info.width, info.height)
        assert max(info.width, info.height) <= MAX_SIDE
        assert info.width * info.height <= MAX_PIXELS


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(SIGNATURES), st.binary(max_size=600), st.integers(-1, 2 * MAX_BYTES))
def test_random_bytes_only_ever_raise_image_rejected(signature: bytes, rest: bytes, size_bytes: int) -> None:
    assert_sane(signature + rest, size_bytes)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_damaged_real_files_only_ever_raise_image_rejected(sample: bytes, data: st.DataObject) -> None:
    damaged = bytearray(sample[: data.draw(st.integers(0, len(sample)))])
    for _ in range(data.draw(st.integers(0, 4))):
        if damaged:
            damaged[data.draw(st.integers(0, min(len(damaged), 200) - 1))] = data.draw(st.integers(0, 255))
    assert_sane(bytes(damaged), len(sample))


@pytest.mark.parametrize(
    ("image", "target", "expected"),
    [
        ((4000, 3000), (1920, 1080), (1920, 1440)),
        ((3000, 4000), (1920, 1080), (1920, 2560)),
        ((6000, 1000), (1920, 1080), (6480, 1080)),
        ((1920, 1080), (1920, 1080), (1920, 1080)),
        ((3840, 2160), (1920, 1080), (1920, 1080)),
        ((800, 600), (1920, 1080), (1920, 1440)),
        ((1000, 3), (10, 10), (3333, 10)),
        ((3, 1000), (10, 10), (10, 3333)),
        ((1, 1), (1, 1), (1, 1)),
        ((12_000, 16), (1, 1), (750, 1)),
    ],
)
def test_fit_cover(image: tuple[int, int], target: tuple[int, int], expected: tuple[int, int]) -> None:
    assert fit_cover(*image, *target) == expected


@settings(deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(1, 8_000), st.integers(1, 8_000))
def test_fit_cover_covers_keeps_the_aspect_and_no_more(width: int, height: int, tw: int, th: int) -> None:
    w, h = fit_cover(width, height, tw, th)
    assert w >= tw and h >= th
    assert w == tw or h == th
    # Rounding moves the free side by at most half a pixel.
    if h == th:
        assert abs(w * height - width * th) * 2 <= height
    else:
        assert abs(h * width - height * tw) * 2 <= width


@pytest.mark.parametrize("sizes", [(0, 10, 10, 10), (10, 0, 10, 10), (10, 10, 0, 10), (10, 10, 10, -1)])
def test_fit_cover_refuses_empty_sizes(sizes: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        fit_cover(*sizes)
