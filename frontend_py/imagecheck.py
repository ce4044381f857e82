"""Checks a file dropped as a custom background by its content, before the browser decodes it.

Only the start of the file is read: enough to recognise PNG, JPEG, WebP or GIF by its signature and to
read its dimensions, so that a huge or hostile image is turned away before a decoder allocates its
pixels. The file's name and MIME type are never consulted; both are whatever the sender made them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
MIN_SIDE = 16
HEADER_BYTES = 256 * 1024

_SIGNATURES: tuple[tuple[str, tuple[int | None, ...]], ...] = (
    ("png", tuple(b"\x89PNG\r\n\x1a\n")),
    ("jpeg", tuple(b"\xff\xd8\xff")),
    ("gif", tuple(b"GIF87a")),
    ("gif", tuple(b"GIF89a")),
    ("webp", (*b"RIFF", None, None, None, None, *b"WEBP")),  # the RIFF size in between can be anything
)
_MIN_SNIFF = 4  # fewer bytes than this could begin too many other kinds of file

_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC share the range
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0-7 have no length
_JPEG_BEFORE_FRAME = frozenset({0x00, 0xD8, 0xD9, 0xDA})  # a stuffed byte, SOI, EOI or SOS: no valid SOF
_GIF_BLOCKS = frozenset({0x21, 0x2C})  # an extension or an image descriptor


class ImageRejected(Exception):
    """A file that can't be a background; `key` is the i18n key of the reason."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class ImageInfo:
    """What inspect found; the size is as stored, before any EXIF orientation turns it."""

    format: str  # "png", "jpeg", "webp" or "gif"
    width: int
    height: int


def inspect(head: bytes, size_bytes: int) -> ImageInfo:
    """Identify the image in a file of `size_bytes` bytes from `head`, its first HEADER_BYTES or fewer.

    Raises ImageRejected unless it is a PNG, JPEG, WebP or GIF of an acceptable size.
    """
    if size_bytes > MAX_BYTES:
        raise ImageRejected("background.too_big")
    fmt = _sniff(head)
    width, height = _PARSERS[fmt](head, size_bytes)
    if width == 0 or height == 0:
        raise _truncated()
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageRejected("background.too_many_pixels")
    if min(width, height) < MIN_SIDE:
        raise ImageRejected("background.too_small")
    return ImageInfo(fmt, width, height)


def fit_cover(width: int, height: int, target_width: int, target_height: int) -> tuple[int, int]:
    """The size of a width x height image scaled, keeping its aspect ratio, to just cover the target."""
    if min(width, height, target_width, target_height) < 1:
        raise ValueError(f"sizes must be positive: {width}x{height} to {target_width}x{target_height}")
    # Integer arithmetic, rounding half up: the side that isn't exact stays at least its target.
    if width * target_height >= height * target_width:
        return (2 * width * target_height + height) // (2 * height), target_height
    return target_width, (2 * height * target_width + width) // (2 * width)


def _sniff(head: bytes) -> str:
    for fmt, signature in _SIGNATURES:
        long_enough = len(head) >= min(len(signature), _MIN_SNIFF)
        if long_enough and all(s is None or s == b for s, b in zip(signature, head)):
            return fmt  # possibly on a prefix of the signature: the parser then finds it truncated
    raise ImageRejected("background.not_image")


def _truncated() -> ImageRejected:
    return ImageRejected("background.truncated")


def _need(head: bytes, end: int) -> None:
    if len(head) < end:
        raise _truncated()


def _u16be(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 2], "big")


def _png(head: bytes, size_bytes: int) -> tuple[int, int]:
    _need(head, 33)  # the signature, then IHDR: length, type, 13 bytes of data and CRC
    if head[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise _truncated()
    if zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big"):
        raise _truncated()
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _jpeg(head: bytes, size_bytes: int) -> tuple[int, int]:
    pos = 2
    while True:
        _need(head, pos + 2)
        if head[pos] != 0xFF:
            raise _truncated()
        while head[pos + 1] == 0xFF:  # any marker may be preceded by fill bytes
            pos += 1
            _need(head, pos + 2)
        marker = head[pos + 1]
        pos += 2
        if marker in _JPEG_STANDALONE:
            continue
        if marker in _JPEG_BEFORE_FRAME:
            raise _truncated()
        _need(head, pos + 2)
        length = _u16be(head, pos)
        if marker in _JPEG_SOF:
            _need(head, pos + 8)  # length, precision, height, width, number of components
            components = head[pos + 7]
            if components == 0 or length != 8 + 3 * components:
                raise _truncated()
            return _u16be(head, pos + 5), _u16be(head, pos + 3)
        if length < 2:
            raise _truncated()
        pos += length


def _webp(head: bytes, size_bytes: int) -> tuple[int, int]:
    _need(head, 20)  # RIFF header, WEBP, then the first chunk's type and size
    if int.from_bytes(head[4:8], "little") + 8 > size_bytes:
        raise _truncated()
    chunk = head[12:16]
    if chunk == b"VP8 ":
        _need(head, 30)
        if head[20] & 1 or head[23:26] != b"\x9d\x01\x2a":  # not a key frame, or no start code
            raise _truncated()
        # The top two bits of each are an upscaling hint, not part of the size.
        return (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L":
        _need(head, 25)
        bits = int.from_bytes(head[21:25], "little")
        if head[20] != 0x2F or bits >> 29:  # the signature, and version 0
            raise _truncated()
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        _need(head, 30)
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    raise _truncated()


def _gif(head: bytes, size_bytes: int) -> tuple[int, int]:
    _need(head, 13)  # the signature and the logical screen descriptor
    flags = head[10]
    table = 3 << ((flags & 7) + 1) if flags & 0x80 else 0
    # Some block must follow the global colour table; looking for it also catches files cut short.
    _need(head, 14 + table)
    if head[13 + table] not in _GIF_BLOCKS:
        raise _truncated()
    return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")


_PARSERS: dict[str, Callable[[bytes, int], tuple[int, int]]] = {
    "png": _png,
    "jpeg": _jpeg,
    "webp": _webp,
    "gif": _gif,
}
