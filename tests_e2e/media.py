"""Fake capture media for Chromium's `--use-file-for-fake-{video,audio}-capture` flags.

The camera shows a real photo of a person (`skimage.data.astronaut()`, letterboxed to 640x480)
and the microphone plays a 440 Hz tone. `reference_image()` is the exact RGB picture the y4m
file was made from, for pixel comparisons against what a page captured or received.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT, FPS = 640, 480, 30
SAMPLE_RATE = 48_000
TONE_HZ = 440.0


@dataclass(frozen=True)
class FakeMedia:
    video: Path  # y4m, WIDTH x HEIGHT, 4:2:0
    audio: Path  # wav, 48 kHz, 16-bit, mono
    reference: np.ndarray  # (HEIGHT, WIDTH, 3) uint8 RGB: the picture in every video frame

    def chromium_flags(self) -> list[str]:
        return [
            f"--use-file-for-fake-video-capture={self.video}",
            f"--use-file-for-fake-audio-capture={self.audio}",
        ]


@cache
def _reference() -> np.ndarray:
    from skimage import data

    photo = Image.fromarray(data.astronaut())  # 512x512 RGB
    scale = min(WIDTH / photo.width, HEIGHT / photo.height)
    size = (round(photo.width * scale), round(photo.height * scale))
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0))
    canvas.paste(photo.resize(size, Image.Resampling.LANCZOS),
                 ((WIDTH - size[0]) // 2, (HEIGHT - size[1]) // 2))
    array = np.asarray(canvas, dtype=np.uint8)
    array.setflags(write=False)
    return array


def reference_image() -> np.ndarray:
    """The 640x480 RGB letterboxed astronaut (read-only; copy it to modify)."""
    return _reference()


def rgb_to_i420(rgb: np.ndarray) -> bytes:
    """BT.601 limited-range ("TV") RGB -> planar Y, U, V with 2x2-averaged chroma."""
    pixels = rgb.astype(np.float64)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def half(plane: np.ndarray) -> np.ndarray:
        h, w = plane.shape
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = (y, half(u), half(v))
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: Path, rgb: np.ndarray, fps: int = FPS) -> Path:
    """A y4m file of one second of identical frames of `rgb` (even width and height)."""
    height, width, _ = rgb.shape
    frame = b"FRAME\n" + rgb_to_i420(rgb)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(fps):
            out.write(frame)
    return path


def write_wav(path: Path, hz: float = TONE_HZ, seconds: float = 10.0, amplitude: float = 0.5) -> Path:
    """A mono 16-bit 48 kHz sine wave."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    samples = np.rint(amplitude * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return path


def make_fake_media(directory: Path) -> FakeMedia:
    """Write (or reuse) the camera and microphone files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    video, audio = directory / "camera.y4m", directory / "microphone.wav"
    if not video.exists():
        write_y4m(video, reference_image())
    if not audio.exists():
        write_wav(audio)
    return FakeMedia(video=video, audio=audio, reference=reference_image())
