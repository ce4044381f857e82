"""What a recorded clip is: its container and codecs, size, frame rate, bit rates and length.

MP4 comes first because it plays everywhere a clip may be shared to (phones, chat apps, slide
decks); browsers that can't record it (Firefox, older Chromium) record WebM, which then needs
its duration written in afterwards (webm.py). Pure Python (CPython tests); recording.py does
the recording in the browser.
"""

from __future__ import annotations

from collections.abc import Callable

# H.264 Constrained Baseline level 3.1 carries 1280x720 at 30 fps and decodes on every phone.
CANDIDATES = (
    "video/mp4;codecs=avc1.42E01F,opus",
    "video/mp4;codecs=avc1.42E01F,mp4a.40.2",
    "video/mp4",
    "video/webm;codecs=vp9,opus",
    "video/webm;codecs=vp8,opus",
    "video/webm",
)

MAX_SECONDS = 60
# The on-screen stage's full size: a clip looks like the stage, however small it is shown.
SIZE = {"16:9": (1280, 720), "3:4": (720, 960)}
FPS = 30
VIDEO_BITS_PER_SECOND = 5_000_000  # 720p30 of faces and stickers stays sharp; 60 s is ~38 MB
AUDIO_BITS_PER_SECOND = 128_000
TIMESLICE_MS = 1000  # MediaRecorder hands over what it has every second, not all at the end
TICK_S = 0.25  # the room's timer is told this often
# requestAnimationFrame comes a little early or late; without this slack a 60 Hz display
# would draw every third callback (20 fps) whenever one came a fraction of a millisecond early.
FRAME_SLACK_MS = 2.0


def choose(is_supported: Callable[[str], bool]) -> str | None:
    """The first of CANDIDATES the browser records (MediaRecorder.isTypeSupported), or None."""
    return next((mime for mime in CANDIDATES if is_supported(mime)), None)


def frame_due(now_ms: float, last_ms: float) -> bool:
    """Whether an animation frame at `now_ms` should draw, the last having drawn at `last_ms`:
    at most FPS a second whatever the display's refresh rate."""
    return now_ms - last_ms >= 1000 / FPS - FRAME_SLACK_MS


def timer_text(seconds: float) -> str:
    """Elapsed time as the room's timer shows it: "0:07", "1:00"."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def needs_duration_fix(mime: str) -> bool:
    """Whether a clip of this type comes without a duration (MediaRecorder's streamed WebM)."""
    return mime.split(";", 1)[0].strip().lower().endswith("/webm")
