"""The clip's format rules, in CPython (the recording itself is recording.py, in the browser)."""

from __future__ import annotations

import pytest

from frontend_py import clipformat
from frontend_py.clipformat import CANDIDATES, choose, frame_due, needs_duration_fix, timer_text
from frontend_py.galleryfiles import extension
from frontend_py.layout import ASPECTS


def test_mp4_is_preferred_when_the_browser_records_it() -> None:
    assert choose(lambda mime: True) == "video/mp4;codecs=avc1.42E01F,opus"


def test_mp4_with_aac_when_opus_in_mp4_is_not_recorded() -> None:
    assert choose(lambda mime: "opus" not in mime) == "video/mp4;codecs=avc1.42E01F,mp4a.40.2"


@pytest.mark.parametrize(
    "supported, expected",
    [
        ({"video/webm;codecs=vp8,opus", "video/webm"}, "video/webm;codecs=vp8,opus"),
        ({"video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus"}, "video/webm;codecs=vp9,opus"),
        ({"video/webm"}, "video/webm"),
        ({"video/mp4", "video/webm;codecs=vp9,opus"}, "video/mp4"),
    ],
)
def test_the_first_supported_candidate_wins(supported: set[str], expected: str) -> None:
    assert choose(supported.__contains__) == expected


def test_nothing_when_no_candidate_is_recorded() -> None:
    assert choose(lambda mime: False) is None


def test_candidates_are_asked_in_order_and_no_further_than_needed() -> None:
    asked: list[str] = []

    def supported(mime: str) -> bool:
        asked.append(mime)
        return mime.startswith("video/webm")

    choose(supported)
    assert asked == list(CANDIDATES[:4])
    assert [mime.split(";")[0] for mime in CANDIDATES] == ["video/mp4"] * 3 + ["video/webm"] * 3


@pytest.mark.parametrize("mime", CANDIDATES)
def test_every_candidate_gets_a_file_extension(mime: str) -> None:
    assert extension(mime) == mime.split(";")[0].split("/")[1]


def test_a_size_for_every_stage_aspect_in_its_shape() -> None:
    assert set(clipformat.SIZE) == set(ASPECTS)
    for aspect, (width, height) in clipformat.SIZE.items():
        assert width / height == pytest.approx(ASPECTS[aspect])
        assert width % 16 == 0 and height % 16 == 0  # whole macroblocks: no padded edge
    assert clipformat.SIZE["16:9"] == (1280, 720)
    assert clipformat.SIZE["3:4"] == (720, 960)


def test_bit_rates_give_a_clip_a_phone_can_share() -> None:
    seconds = clipformat.MAX_SECONDS
    megabytes = (clipformat.VIDEO_BITS_PER_SECOND + clipformat.AUDIO_BITS_PER_SECOND) * seconds / 8 / 1e6
    assert clipformat.MAX_SECONDS == 60 and clipformat.FPS == 30
    assert clipformat.AUDIO_BITS_PER_SECOND == 128_000
    assert 2_500_000 <= clipformat.VIDEO_BITS_PER_SECOND <= 8_000_000
    assert megabytes < 64


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0:00"), (0.99, "0:00"), (7, "0:07"), (7.9, "0:07"),
        (59.999, "0:59"), (60, "1:00"), (61.5, "1:01"), (-0.2, "0:00"),
    ],
)
def test_timer_text(seconds: float, text: str) -> None:
    assert timer_text(seconds) == text


@pytest.mark.parametrize(
    "mime, fix",
    [
        ("video/webm", True),
        ("video/webm;codecs=vp9,opus", True),
        ("Video/WebM; codecs=vp8", True),
        ("video/mp4", False),
        ("video/mp4;codecs=avc1.42E01F,opus", False),
        ("video/x-matroska;codecs=avc1", False),
    ],
)
def test_only_webm_needs_its_duration_written(mime: str, fix: bool) -> None:
    assert needs_duration_fix(mime) is fix


def frames_drawn(refresh_hz: float, seconds: float = 10.0, jitter_ms: float = 0.0) -> int:
    """Frames drawn by animation frames at `refresh_hz`, alternately early and late by jitter_ms."""
    interval = 1000 / refresh_hz
    last, drawn = float("-inf"), 0
    for tick in range(1, round(seconds * refresh_hz) + 1):
        now = tick * interval + (jitter_ms if tick % 2 else -jitter_ms)
        if frame_due(now, last):
            last, drawn = now, drawn + 1
    return drawn


@pytest.mark.parametrize("refresh_hz", [30, 60, 120, 144])
def test_frames_are_drawn_at_about_the_clip_rate_on_any_display(refresh_hz: float) -> None:
    fps = frames_drawn(refresh_hz) / 10
    assert clipformat.FPS * 0.85 <= fps <= clipformat.FPS


def test_a_slightly_early_animation_frame_still_draws() -> None:
    assert frames_drawn(60, jitter_ms=0.5) / 10 == pytest.approx(clipformat.FPS, abs=1)
