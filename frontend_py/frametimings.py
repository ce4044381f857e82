"""How long the sender pipeline's stages took over its last frames: the diagnostics panel's
table and bench/pipeline.py's figures."""

from __future__ import annotations

from collections import deque

# The stages, the whole frame, and the wait until it is sent.
STAGES = ("preprocess", "segmentation", "face", "overlays", "pack", "total", "send")
SAMPLES = 300


class FrameTimings:
    """Per-stage milliseconds of the last SAMPLES frames, each with `at`, when it began."""

    def __init__(self) -> None:
        self.frames: deque[dict[str, float]] = deque(maxlen=SAMPLES)
        self.count = 0

    def add(self, frame: dict[str, float]) -> None:
        self.frames.append(frame)
        self.count += 1

    def percentile(self, stage: str, share: float) -> float:
        """Over the frames where the stage ran."""
        values = sorted(frame[stage] for frame in self.frames if stage in frame)
        return values[min(len(values) - 1, int(share * len(values)))] if values else 0.0

    def fps(self) -> float:
        recent = [frame["at"] for frame in self.frames]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) * 1000.0 / max(1.0, recent[-1] - recent[0])
