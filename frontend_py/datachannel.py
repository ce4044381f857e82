"""What peers say to each other over their RTCDataChannel: one JSON object per message.

  {"type": "mute", "muted": bool}
  {"type": "layout", "ops": [op, ...]}                      ops of frontend_py/layout.py
  {"type": "background-request", "id": str}                 "send me this image"
  {"type": "background-chunk", "id": str, "index": int, "count": int, "data": base64}

A custom background travels as chunks of a JPEG whose id is "img:" + its sha256, so a
receiver can tell a complete, intact image from anything else. Pure Python (CPython tests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from typing import Any

from frontend_py.imagecheck import MAX_BYTES

CHUNK_BYTES = 16 * 1024  # far below the SCTP message limit once base64-encoded
MAX_CHUNKS = math.ceil(MAX_BYTES / CHUNK_BYTES)
IMAGE_PREFIX = "img:"


def image_id(data: bytes) -> str:
    return IMAGE_PREFIX + hashlib.sha256(data).hexdigest()


def is_image_id(value: str) -> bool:
    digest = value[len(IMAGE_PREFIX):]
    return value.startswith(IMAGE_PREFIX) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def mute(muted: bool) -> dict[str, Any]:
    return {"type": "mute", "muted": muted}


def layout(ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "layout", "ops": ops}


def background_request(image: str) -> dict[str, Any]:
    return {"type": "background-request", "id": image}


def background_chunks(data: bytes) -> list[dict[str, Any]]:
    """The messages that carry one image, in order."""
    image = image_id(data)
    count = max(1, math.ceil(len(data) / CHUNK_BYTES))
    return [
        {
            "type": "background-chunk",
            "id": image,
            "index": index,
            "count": count,
            "data": base64.b64encode(data[index * CHUNK_BYTES:(index + 1) * CHUNK_BYTES]).decode("ascii"),
        }
        for index in range(count)
    ]


class Transfer:
    """One image arriving in chunks; `add` returns the whole image once it is complete and intact."""

    def __init__(self, image: str, count: int) -> None:
        if not is_image_id(image) or not 0 < count <= MAX_CHUNKS:
            raise ValueError("bad background transfer")
        self.image, self.count = image, count
        self.parts: dict[int, bytes] = {}

    @property
    def progress(self) -> float:
        return len(self.parts) / self.count

    def add(self, message: dict[str, Any]) -> bytes | None:
        index, count, data = message.get("index"), message.get("count"), message.get("data")
        if not isinstance(index, int) or isinstance(index, bool) or count != self.count or not 0 <= index < count:
            raise ValueError("bad background chunk")
        if not isinstance(data, str) or len(data) > 2 * CHUNK_BYTES:
            raise ValueError("bad background chunk")
        try:
            self.parts[index] = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError("bad background chunk") from exc
        if len(self.parts) < self.count:
            return None
        whole = b"".join(self.parts[i] for i in range(self.count))
        if image_id(whole) != self.image:
            self.parts.clear()
            raise ValueError("background image does not match its id")
        return whole
