"""Camera and microphone: capture, device choice, and a speaking detector.

Audio processing stays in the browser: voice goes out with echo cancellation and noise
suppression on, and the speaking detector reads a 32-bin spectrum ten times a second rather
than pulling samples into Python.

Devices are opened together on the way into the booth (`open_camera`), and one at a time when
the person switches inside it (`open_video`, `open_microphone`; devicechoice.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import js
from pyodide.ffi import JsException

from frontend_py import devices
from frontend_py.dom import js_object, nullable

AUDIO_CONSTRAINTS = {"echoCancellation": True, "noiseSuppression": True, "autoGainControl": True}
# Photos take the camera's full picture (capture.py); the video sent to peers is scaled down.
VIDEO_CONSTRAINTS = {"width": {"ideal": 1280}, "height": {"ideal": 720}, "frameRate": {"ideal": 30}}
SPEAKING_LEVEL = 0.06  # mean spectrum magnitude 0..1; speech sits well above room noise
SPEAKING_HOLD_S = 0.4


# The message for each devices.failure reason: on the way in, both devices were asked for at
# once; inside the booth, one device, and the booth goes on with the one it had.
ENTERING_MESSAGES = {
    devices.DENIED: "media.denied", devices.BUSY: "media.missing", devices.MISSING: "media.missing",
}
SWITCHING_MESSAGES = {reason: f"devices.{reason}" for reason in (devices.DENIED, devices.BUSY, devices.MISSING)}


class MediaError(Exception):
    """Capture failed; `key` is the i18n key of the message for the person, `reason` a
    devices.failure reason (or "stalled": the camera opened but gave no picture)."""

    def __init__(self, key: str, reason: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.reason = reason


@dataclass
class Devices:
    cameras: list[tuple[str, str]]
    microphones: list[tuple[str, str]]
    facing: dict[str, str] = field(default_factory=dict)  # camera id -> devices.USER or ENVIRONMENT, if known


def _video(camera_id: str) -> dict[str, Any]:
    return dict(VIDEO_CONSTRAINTS, **({"deviceId": {"exact": camera_id}} if camera_id else {}))


def _audio(microphone_id: str) -> dict[str, Any]:
    return dict(AUDIO_CONSTRAINTS, **({"deviceId": {"exact": microphone_id}} if microphone_id else {}))


async def _capture(constraints: dict[str, Any], messages: dict[str, str]) -> Any:
    try:
        return await js.navigator.mediaDevices.getUserMedia(js_object(constraints))
    except Exception as exc:
        name = getattr(exc, "name", "") or getattr(getattr(exc, "js_error", None), "name", "")
        reason = devices.failure(f"{name} {exc}")
        raise MediaError(messages[reason], reason) from exc


async def open_camera(camera_id: str = "", microphone_id: str = "") -> Any:
    """A MediaStream with one video and one audio track; raises `MediaError`."""
    return await _capture({"video": _video(camera_id), "audio": _audio(microphone_id)}, ENTERING_MESSAGES)


async def open_video(camera_id: str = "") -> Any:
    """A MediaStream with just a camera's video track, to switch to inside the booth; raises
    `MediaError` (devices.* messages)."""
    return await _capture({"video": _video(camera_id)}, SWITCHING_MESSAGES)


async def open_microphone(microphone_id: str = "") -> Any:
    """A microphone's audio track (MediaStreamTrack), to switch to inside the booth; raises
    `MediaError` (devices.* messages)."""
    stream = await _capture({"audio": _audio(microphone_id)}, SWITCHING_MESSAGES)
    return stream.getAudioTracks()[0]


async def list_devices() -> Devices:
    listed = await js.navigator.mediaDevices.enumerateDevices()
    cameras, microphones, facing = [], [], {}
    for device in listed:
        label = device.label or device.deviceId[:8]
        if device.kind == "videoinput":
            cameras.append((device.deviceId, label))
            facing[device.deviceId] = devices.facing(label, _facing_modes(device))
        elif device.kind == "audioinput":
            microphones.append((device.deviceId, label))
    return Devices(cameras, microphones, {i: side for i, side in facing.items() if side})


def _facing_modes(device: Any) -> list[str]:
    """A listed camera's `facingMode` capability (Chromium lists it; other browsers have no
    InputDeviceInfo.getCapabilities)."""
    try:
        modes = nullable(getattr(device.getCapabilities(), "facingMode", None))
        return [str(mode) for mode in modes] if modes is not None else []
    except JsException:
        return []


def device_id(stream: Any, kind: str) -> str:
    """The id of the device behind the stream's first `kind` ("video"/"audio") track; "" if none."""
    for track in stream.getTracks() if stream is not None else []:
        if track.kind == kind:
            return str(getattr(track.getSettings(), "deviceId", None) or "")
    return ""


def facing_mode(stream: Any) -> str:
    """Which way the stream's camera faces, as its track says (phones); "" if it does not."""
    for track in stream.getVideoTracks() if stream is not None else []:
        return str(getattr(track.getSettings(), "facingMode", None) or "")
    return ""


def swap_track(stream: Any, track: Any) -> list[Any]:
    """Put `track` into `stream` in place of the stream's tracks of its kind; returns those,
    removed but not stopped."""
    old = [other for other in stream.getTracks() if other.kind == track.kind and other.id != track.id]
    for other in old:
        stream.removeTrack(other)
    if not any(other.id == track.id for other in stream.getTracks()):
        stream.addTrack(track)
    return old


def stop(stream: Any) -> None:
    if stream is not None:
        for track in stream.getTracks():
            track.stop()


_audio_context: Any = None


def audio_context() -> Any:
    """One AudioContext for the page (browsers limit how many may exist)."""
    global _audio_context
    if _audio_context is None:
        _audio_context = js.AudioContext.new()
    return _audio_context


class SpeakingDetector:
    """Calls `on_change(True/False)` when the stream's voice starts or stops."""

    def __init__(self, stream: Any, on_change: Callable[[bool], None]) -> None:
        context = audio_context()
        self.source = context.createMediaStreamSource(stream)
        self.analyser = context.createAnalyser()
        self.analyser.fftSize = 64
        self.analyser.smoothingTimeConstant = 0.3
        self.source.connect(self.analyser)
        self.bins = js.Uint8Array.new(self.analyser.frequencyBinCount)
        self.on_change = on_change
        self.speaking = False
        self._task = asyncio.ensure_future(self._watch())

    def level(self) -> float:
        self.analyser.getByteFrequencyData(self.bins)
        values = self.bins.to_py()
        return sum(values) / (255 * len(values))

    async def _watch(self) -> None:
        quiet_since = 0.0
        loop = asyncio.get_event_loop()
        while True:
            await asyncio.sleep(0.1)
            if audio_context().state == "suspended":
                continue
            loud = self.level() > SPEAKING_LEVEL
            now = loop.time()
            if loud:
                quiet_since = now
            speaking = loud or (self.speaking and now - quiet_since < SPEAKING_HOLD_S)
            if speaking != self.speaking:
                self.speaking = speaking
                self.on_change(speaking)

    def close(self) -> None:
        self._task.cancel()
        self.source.disconnect()
