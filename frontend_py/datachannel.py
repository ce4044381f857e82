"""What peers say to each other over their RTCDataChannel: JSON objects, and binary chunks.

  {"type": "mute", "muted": bool}
  {"type": "layout", "ops": [op, ...]}                      our own live edits (frontend_py/layout.py)
  {"type": "snapshot", "ops": [op, ...]}                    everyone's ops, for a newcomer (in parts)
  {"type": "background-request", "id": str}                 "send me this image"
  {"type": "background", "id": str, "transfer": int, "bytes": int}
  {"type": "clock", "t0": ms} / {"type": "clock", "t0": ms, "t1": ms, "t2": ms}
  {"type": "shutter", "shot": str, "at": ms, "countdown": s, "series": str, "index": int, "count": int}
  {"type": "still", "shot": str, "transfer": int, "bytes": int, "mime": str, "width": int, "height": int}
  {"type": "photo", "shot": str, "stills": [peer, ...], "ops": [op, ...]}
  {"type": "recording", "on": bool}                         "I am recording a clip" (or stopped)
  {"type": "clip", "transfer": int, "bytes": int, "mime": str, "width": int, "height": int}
  binary: transfer number (uint32, big-endian), chunk index (uint32), then the chunk's bytes

Backgrounds, stills and shared clips are announced by a JSON message and follow as binary
chunks of their transfer (transfers.py). A custom background's id is "img:" + its sha256, so
a receiver can tell a complete, intact image from anything else.

Every message from a peer goes through `parse` before anything uses it: types, ranges, sizes
and required fields are checked here, in one place, and a live op must come from the peer it
names. Anything malformed gives None and is dropped. Pure Python (CPython tests).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from frontend_py.imagecheck import MAX_BYTES
from frontend_py.layout import MAX_CLOCK, LayerState, Layout, StageState, validate

IMAGE_PREFIX = "img:"
MAX_LIVE_OPS = 64  # one edit is a handful of ops; a message of more is not an edit
SNAPSHOT_PART_OPS = 400  # ~40 KB of JSON: a snapshot of more goes in several messages
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
class Mute:
    muted: bool

    def message(self) -> dict[str, Any]:
        return {"type": "mute", "muted": self.muted}


@dataclass(frozen=True)
class LiveOps:
    """A peer's own edits, as it makes them."""

    ops: tuple[dict[str, Any], ...]

    def message(self) -> dict[str, Any]:
        return {"type": "layout", "ops": list(self.ops)}


@dataclass(frozen=True)
class Snapshot:
    """Part of everything a peer knows of the layout (anyone's ops), for a newcomer."""

    ops: tuple[dict[str, Any], ...]

    def message(self) -> dict[str, Any]:
        return {"type": "snapshot", "ops": list(self.ops)}


def snapshot_parts(ops: list[dict[str, Any]]) -> list[Snapshot]:
    """A layout's ops in messages of at most SNAPSHOT_PART_OPS (ops merge in any order)."""
    return [Snapshot(tuple(ops[i:i + SNAPSHOT_PART_OPS])) for i in range(0, len(ops), SNAPSHOT_PART_OPS)] or [Snapshot(())]


@dataclass(frozen=True)
class BackgroundRequest:
    image: str

    def message(self) -> dict[str, Any]:
        return {"type": "background-request", "id": self.image}


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
class BackgroundHeader(_Announced):
    """A custom background on its way (a JPEG at most the photo's size), in chunks of `transfer`."""

    TYPE = "background"
    image: str
    transfer: int
    bytes: int

    def message(self) -> dict[str, Any]:
        return {"type": "background", "id": self.image, "transfer": self.transfer, "bytes": self.bytes}


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
        frozen = Layout.frozen(shot_owner(self.shot), self.ops)
        return frozen.stage(), frozen.layers()

    def message(self) -> dict[str, Any]:
        return {"type": "photo", "shot": self.shot, "stills": list(self.stills), "ops": list(self.ops)}


Message = (
    Mute | LiveOps | Snapshot | BackgroundRequest | BackgroundHeader
    | ClockProbe | Shutter | StillHeader | PhotoDecision | ClipHeader | Recording
)
Header = BackgroundHeader | StillHeader | ClipHeader  # what announces a binary transfer


def parse(message: object, sender: str) -> Message | None:
    """`message` (decoded JSON) from peer `sender`, checked in full; None if it is malformed
    in any way. Live ops claiming to be another peer's are left out."""
    if not isinstance(message, dict):
        return None
    try:
        if message["type"] == "layout":
            return _live_ops(message, sender)
        return _PARSERS[message["type"]](message)
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError):
        return None


def _ops(ops: object, limit: int) -> list[dict[str, Any]]:
    if not isinstance(ops, list) or len(ops) > limit:
        raise ValueError("bad ops")
    checked = []
    for op in ops:
        try:
            checked.append(validate(op))
        except (ValueError, TypeError):
            continue  # one bad op does not cost the others
    return checked


def _live_ops(message: dict[str, Any], sender: str) -> LiveOps:
    return LiveOps(tuple(op for op in _ops(message["ops"], MAX_LIVE_OPS) if op["peer"] == sender))


def _snapshot(message: dict[str, Any]) -> Snapshot:
    return Snapshot(tuple(_ops(message["ops"], SNAPSHOT_PART_OPS)))


def _mute(message: dict[str, Any]) -> Mute:
    if not isinstance(message["muted"], bool):
        raise TypeError("bad mute")
    return Mute(message["muted"])


def _image(value: object) -> str:
    if not isinstance(value, str) or not is_image_id(value):
        raise ValueError("bad image id")
    return value


def _background_request(message: dict[str, Any]) -> BackgroundRequest:
    return BackgroundRequest(_image(message["id"]))


def _background(message: dict[str, Any]) -> BackgroundHeader:
    return BackgroundHeader(_image(message["id"]), _int(message["transfer"], 0, 2**32 - 1), _int(message["bytes"], 1, MAX_BYTES))


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
    decision = PhotoDecision(_shot_id(message["shot"]), tuple(dict.fromkeys(stills)), tuple(validate(op) for op in ops))
    decision.layout()
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
        raise TypeError("bad recording flag")
    return Recording(message["on"])


_PARSERS = {
    "mute": _mute, "snapshot": _snapshot, "background-request": _background_request, "background": _background,
    "clock": _clock, "shutter": _shutter, "still": _still, "photo": _photo, "clip": _clip, "recording": _recording,
}


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
    """One announced background, still or clip arriving in binary chunks, in order (the channel is ordered
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
