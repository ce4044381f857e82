"""The camera the booth takes its frames from, and the move to another camera without a gap:
frames keep coming from the old one until the new one has given its first."""

from __future__ import annotations

from typing import Any

from frontend_py import media
from frontend_py.sourcevideo import SourceVideo

CAMERA_START_S = 20.0  # from Join, or a switch, to the camera's first frame, before the person is told


class CameraFeed:
    """`stream`, the MediaStream the booth was opened with, always holds the camera in use (its
    video track, beside the microphone's); `source` is the video element its frames come from."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.source = SourceVideo(stream)
        self._incoming: SourceVideo | None = None  # the camera being switched to, until it gives a frame

    async def start(self) -> None:
        """Return once the camera has given a frame; sourcevideo.CameraStalled after CAMERA_START_S."""
        await self.source.start(CAMERA_START_S)

    async def open(self, camera: Any) -> SourceVideo:
        """Another camera's video element, once it has given a frame; sourcevideo.CameraStalled
        after CAMERA_START_S, or if the feed is closed meanwhile."""
        incoming = self._incoming = SourceVideo(camera)
        try:
            await incoming.start(CAMERA_START_S)
        finally:
            self._incoming = None
        return incoming

    def take_frames(self, incoming: SourceVideo) -> None:
        """Frames come from `incoming` from now on; a wait for the old camera's next frame goes
        on to the new one's."""
        self.source.close()
        self.source = incoming

    def take_tracks(self, camera: Any) -> None:
        """`camera`'s video track takes the old one's place in `stream`; the old one is stopped."""
        for track in camera.getVideoTracks():
            for old in media.swap_track(self.stream, track):
                old.stop()

    def close(self) -> None:
        self.source.close()
        if self._incoming is not None:
            self._incoming.close()
