"""Camera and microphone: capture, device choice, and a speaking detector.

Audio processing stays in the browser: voice goes out with echo cancellation and noise
suppression on, and the speaking detector reads a 32-bin spectrum ten times a second rather
than pulling samples into Python.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable

import js

from frontend_py.dom import js_object

AUDIO_CONSTRAINTS = {"echoCancellation": True, "noiseSuppression": True, "autoGainControl": True}
# Photos take the camera's full picture (capture.py); the video sent to peers is scaled down.
VIDEO_CONSTRAINTS = {"width": {"ideal": 1280}, "height": {"ideal": 720}, "frameRate": {"ideal": 30}}
SPEAKING_LEVEL = 0.06  # mean spectrum magnitude 0..1; speech sits well above room noise
SPEAKING_HOLD_S = 0.4


class MediaError(Exception):
    """Capture failed; `key` is the i18n key of the message for the person."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass
class Devices:
    cameras: list[tuple[str, str]]
    microphones: list[tuple[str, str]]


async def open_camera(camera_id: str = "", microphone_id: str = "") -> Any:
    """A MediaStream with one video and one audio track; raises `MediaError`."""
    video = dict(VIDEO_CONSTRAINTS, **({"deviceId": {"exact": camera_id}} if camera_id else {}))
    audio = dict(AUDIO_CONSTRAINTS, **({"deviceId": {"exact": microphone_id}} if microphone_id else {}))
    try:
        return await js.navigator.mediaDevices.getUserMedia(js_object({"video": video, "audio": audio}))
    except Exception as exc:
        name = getattr(getattr(exc, "js_error", None), "name", "") or str(exc)
        if "NotAllowed" in name or "Security" in name:
            raise MediaError("media.denied") from exc
        raise MediaError("media.missing") from exc


async def list_devices() -> Devices:
    devices = await js.navigator.mediaDevices.enumerateDevices()
    cameras, microphones = [], []
    for device in devices:
        label = device.label or device.deviceId[:8]
        if device.kind == "videoinput":
            cameras.append((device.deviceId, label))
        elif device.kind == "audioinput":
            microphones.append((device.deviceId, label))
    return Devices(cameras, microphones)


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
