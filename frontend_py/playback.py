"""Keeping the camera's source video playing for as long as the booth is open.

Browsers pause media on their own: a muted video they deem invisible, a tab that was frozen
in the background, a camera that stalled. Frame callbacks (requestVideoFrameCallback) then
simply stop, and a pipeline that only waits for them waits for ever. The frame loop wakes at
least every FRAME_WAIT_S instead and asks `Watchdog.after_wait` what to do. While the page is
hidden, browsers run no frame callbacks at all: frames are then taken at the timer's pace
(which browsers throttle in background tabs), so peers keep receiving video, more slowly.

Pure logic, no browser: the browser side is sourcevideo.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

FRAME_WAIT_S = 0.25  # longest wait for a frame callback before looking at the video's state
# Counted in wakes without a frame rather than in clock time: a page frozen in the background
# wakes up long after its last frame without anything being wrong yet.
PLAY_EVERY = 4       # wakes between play() calls on a paused video
STALL_WAKES = 12     # playing, visible, yet no frame for this many wakes: re-attach the camera


class Action(str, Enum):
    WAIT = "wait"          # keep waiting for a frame callback
    PLAY = "play"          # the video is paused: play() it
    REATTACH = "reattach"  # playing but stuck: give it the camera stream afresh, then play()
    TAKE = "take"          # hidden page: take the current frame without a callback


@dataclass
class Watchdog:
    empty_wakes: int = 0
    stalls: int = 0

    def presented(self) -> None:
        """A frame callback fired."""
        self.empty_wakes = 0

    def after_wait(self, *, paused: bool, hidden: bool, has_frame: bool) -> Action:
        """FRAME_WAIT_S went by without a frame callback."""
        self.empty_wakes += 1
        if paused:
            return Action.PLAY if self.empty_wakes % PLAY_EVERY == 1 else Action.WAIT
        if hidden:
            self.empty_wakes = 0
            return Action.TAKE if has_frame else Action.WAIT
        if self.empty_wakes >= STALL_WAKES:
            self.empty_wakes = 0
            self.stalls += 1
            return Action.REATTACH
        return Action.WAIT
