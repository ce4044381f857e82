"""What peers say to each other over their RTCDataChannel: JSON objects, and binary chunks.

  {"type": "mute", "muted": bool}
  {"type": "layout", "ops": [op, ...]}                      ops of frontend_py/layout.py
  {"type": "background-request", "id": str}                 "send me this image"
  {"type": "background-chunk", "id": str, "index": int, "count": int, "data": base64}
  {"type": "clock", "t0": ms} / {"type": "clock", "t0": ms, "t1": ms, "t2": ms}
  {"type": "shutter", "shot": str, "at": ms, "countdown": s, "series": str, "index": int, "count": int}
  {"type": "still", "shot": str, "transfer": int, "bytes": int, "mime": str, "width": int, "height": int}
  {"type": "photo", "shot": str, "stills": [peer, ...], "ops": [op, ...]}
  {"type": "recording", "on": bool}                         "I am recording a clip" (or stopped)
  {"type": "clip", "transfer": int, "bytes": int, "mime": str, "width": int, "height": int}
  binary: transfer number (uint32, big-endian), chunk index (uint32), then the chunk's bytes

A custom background travels as chunks of a JPEG whose id is "img:" + its sha256, so a
receiver can tell a complete, intact image from anything else. A still (a person's own
full-resolution cut-out at a shot, capture.py) is announced by a "still" message and
follows as binary chunks of its transfer, as does a clip someone shares. Every message from a peer is checked here before
anything uses it: `parse` returns None for anything malformed. Pure Python (CPython tests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from frontend_py.imagecheck import MAX_BYTES
from frontend_py.layout import MAX_CLOCK, LayerState, Layout, StageState

CHUNK_BYTES = 16 * 1024  # far below the SCTP message limit once base64-encoded
MAX_CHUNKS = math.ceil(MAX_BYTES / CHUNK_BYTES)
IMAGE_PREFIX = "img:"
# Binary chunks: 64 KiB stays under every browser's data-channel message limit (256 KiB in
# Chromium, 1 GiB in Firefox, 64 KiB before Safari 17) with the header.
BINARY_CHUNK_BYTES = 60 * 1024
BINARY_HEADER = struct.Struct(">II")
MAX_STILL_BYTES = 16 * 1024 * 1024  # a 1920x1080 cut-out as PNG is 2-5 MB
MAX_STILL_SIDE = 4096
STILL_TYPES = frozenset({"image/png", "image/webp"})
MAX_CLIP_BYTES = 64 * 1024 * 1024  # 60 s at the recorder's 5 Mbit/s is ~38 MB
CLIP_TYPES = frozenset({"video/mp4", "video/webm"})
COUNTDOWNS = (3, 5, 10)
SERIES_LENGTHS = (1, 4)
MAX_PHOTO_OPS = 2000  # a frozen layout: 6 people and a few hundred stickers
MAX_TIME_MS = float(MAX_CLOCK)  # epoch milliseconds, exact in JavaScript
_PEER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHOT = re.compile(r"[A-Za-z0-9_-]{1,64}:[0-9]{1,9}")


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


def _int(value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"not an integer in {low}..{high}: {value!r:.40}")
    return value


def _time(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_TIME_MS:
        raise ValueError(f"not a time: {value!r:.40}")
    return float(value)


def _shot_id(value: object) -> str:
    if not isinstance(value, str) or not _SHOT.fullmatch(value):
        raise ValueError(f"bad shot id {value!r:.80}")
    return value


def shot_owner(shot: str) -> str:
    """The peer that pressed the shutter for `shot` ("peer:number")."""
    return shot.rpartition(":")[0]


@dataclass(frozen=True)
class ClockProbe:
    """An NTP-style exchange: t0 the asker's send time, t1 and t2 the answerer's receive and
    send times (absent in the question), all in each side's own clock (ms)."""

    t0: float
    t1: float | None = None
    t2: float | None = None


def clock_question(t0: float) -> dict[str, Any]:
    return {"type": "clock", "t0": t0}


def clock_answer(question: ClockProbe, t1: float, t2: float) -> dict[str, Any]:
    return {"type": "clock", "t0": question.t0, "t1": t1, "t2": t2}


@dataclass(frozen=True)
class Shutter:
    """A countdown for `shot`, starting at `at` on the presser's clock (ms). A strip is a
    series of `count` shots; `index` says which this is."""

    shot: str
    at: float
    countdown: int
    series: str
    index: int
    count: int

    @property
    def presser(self) -> str:
        return shot_owner(self.shot)

    @property
    def shot_at(self) -> float:
        """When the picture is taken, on the presser's clock."""
        return self.at + self.countdown * 1000.0

    def message(self) -> dict[str, Any]:
        return {"type": "shutter", **self.__dict__}


class _Announced:
    """What announces a binary transfer: its message type, and `bytes` to come in chunks."""

    TYPE = ""
    bytes: int

    @property
    def chunks(self) -> int:
        return max(1, math.ceil(self.bytes / BINARY_CHUNK_BYTES))

    def message(self) -> dict[str, Any]:
        return {"type": self.TYPE, **self.__dict__}


@dataclass(frozen=True)
class StillHeader(_Announced):
    """A still on its way: `bytes` of an image of `mime`, in binary chunks of `transfer`."""

    TYPE = "still"
    shot: str
    transfer: int
    bytes: int
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class ClipHeader(_Announced):
    """A shared clip on its way: `bytes` of a video of `mime`, in binary chunks of `transfer`."""

    TYPE = "clip"
    transfer: int
    bytes: int
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class Recording:
    """A peer started (or stopped) recording a clip: everyone must know they are recorded."""

    on: bool

    def message(self) -> dict[str, Any]:
        return {"type": "recording", "on": self.on}


@dataclass(frozen=True)
class PhotoDecision:
    """The presser's word on a shot: whose stills count, and the layout as of the shot."""

    shot: str
    stills: tuple[str, ...]
    ops: tuple[dict[str, Any], ...]

    def layout(self) -> tuple[StageState, list[LayerState]]:
        """The stage and its layers as the presser had them at the shot."""
        frozen = Layout(shot_owner(self.shot))
        for op in self.ops:
            frozen.apply(op)
        return frozen.stage(), frozen.layers()

    def message(self) -> dict[str, Any]:
        return {"type": "photo", "shot": self.shot, "stills": list(self.stills), "ops": list(self.ops)}


Message = ClockProbe | Shutter | StillHeader | PhotoDecision | ClipHeader | Recording
Header = StillHeader | ClipHeader  # what announces a binary transfer


def parse_capture(message: dict[str, Any]) -> Message | None:
    """A clock, shutter, still, photo, recording or clip message, checked in full; None if it
    is none of those or is malformed in any way."""
    try:
        return _PARSERS[message["type"]](message)
    except (KeyError, TypeError, ValueError):
        return None


def _clock(message: dict[str, Any]) -> ClockProbe:
    if "t1" not in message:
        return ClockProbe(_time(message["t0"]))
    return ClockProbe(_time(message["t0"]), _time(message["t1"]), _time(message["t2"]))


def _shutter(message: dict[str, Any]) -> Shutter:
    countdown = message["countdown"]
    if countdown not in COUNTDOWNS or isinstance(countdown, bool):
        raise ValueError("bad countdown")
    count = _int(message["count"], 1, max(SERIES_LENGTHS))
    if count not in SERIES_LENGTHS:
        raise ValueError("bad series length")
    shot, series = _shot_id(message["shot"]), _shot_id(message["series"])
    if shot_owner(shot) != shot_owner(series):
        raise ValueError("a series is one presser's")
    return Shutter(shot, _time(message["at"]), int(countdown), series, _int(message["index"], 0, count - 1), count)


def _still(message: dict[str, Any]) -> StillHeader:
    mime = message["mime"]
    if mime not in STILL_TYPES:
        raise ValueError("bad still type")
    return StillHeader(
        _shot_id(message["shot"]), _int(message["transfer"], 0, 2**32 - 1), _int(message["bytes"], 1, MAX_STILL_BYTES),
        mime, _int(message["width"], 1, MAX_STILL_SIDE), _int(message["height"], 1, MAX_STILL_SIDE),
    )


def _photo(message: dict[str, Any]) -> PhotoDecision:
    stills, ops = message["stills"], message["ops"]
    if not isinstance(stills, list) or len(stills) > 64 or not all(isinstance(p, str) and _PEER.fullmatch(p) for p in stills):
        raise ValueError("bad stills")
    if not isinstance(ops, list) or len(ops) > MAX_PHOTO_OPS:
        raise ValueError("bad ops")
    decision = PhotoDecision(_shot_id(message["shot"]), tuple(dict.fromkeys(stills)), tuple(ops))
    decision.layout()  # every op valid, or none of the decision is used
    return decision


def _clip(message: dict[str, Any]) -> ClipHeader:
    mime = message["mime"]
    if mime not in CLIP_TYPES:
        raise ValueError("bad clip type")
    return ClipHeader(
        _int(message["transfer"], 0, 2**32 - 1), _int(message["bytes"], 1, MAX_CLIP_BYTES), mime,
        _int(message["width"], 1, MAX_STILL_SIDE), _int(message["height"], 1, MAX_STILL_SIDE),
    )


def _recording(message: dict[str, Any]) -> Recording:
    if not isinstance(message["on"], bool):
        raise ValueError("bad recording flag")
    return Recording(message["on"])


_PARSERS = {
    "clock": _clock, "shutter": _shutter, "still": _still, "photo": _photo, "clip": _clip, "recording": _recording,
}
CAPTURE_TYPES = frozenset(_PARSERS)


def binary_chunks(transfer: int, data: bytes) -> list[bytes]:
    """The binary messages that carry `data` as `transfer`, in order."""
    count = max(1, math.ceil(len(data) / BINARY_CHUNK_BYTES))
    return [
        BINARY_HEADER.pack(transfer, index) + data[index * BINARY_CHUNK_BYTES:(index + 1) * BINARY_CHUNK_BYTES]
        for index in range(count)
    ]


def parse_binary(data: bytes) -> tuple[int, int, bytes] | None:
    """(transfer, index, payload) of a binary chunk; None when it cannot be one."""
    if len(data) < BINARY_HEADER.size or len(data) > BINARY_HEADER.size + BINARY_CHUNK_BYTES:
        return None
    transfer, index = BINARY_HEADER.unpack_from(data)
    return transfer, index, data[BINARY_HEADER.size:]


class BinaryTransfer:
    """One announced still or clip arriving in binary chunks, in order (the channel is ordered
    and reliable). `add` returns the whole payload once complete; ValueError for a chunk that
    does not belong (wrong index, too many bytes), after which the transfer is dead."""

    def __init__(self, header: Header) -> None:
        self.header = header
        self.parts: list[bytes] = []
        self.received = 0

    @property
    def progress(self) -> float:
        return self.received / self.header.bytes

    def add(self, index: int, payload: bytes) -> bytes | None:
        if index != len(self.parts) or self.received + len(payload) > self.header.bytes:
            raise ValueError("chunk out of order or past the announced size")
        if len(payload) != min(BINARY_CHUNK_BYTES, self.header.bytes - self.received):
            raise ValueError("chunk of the wrong size")
        self.parts.append(payload)
        self.received += len(payload)
        return b"".join(self.parts) if self.received == self.header.bytes else None
