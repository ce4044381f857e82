"""The camera as a video element the pipeline takes its frames from, kept playing.

One per camera: switching cameras inside the booth starts a SourceVideo for the new one, and
the pipeline moves over once it has a frame (Pipeline.use_camera).

A frame is taken only once the browser has presented one (requestVideoFrameCallback):
readyState says data arrived, not that a frame can be copied, and `new VideoFrame(video)`
throws before that. Playback is started by play(), never left to autoplay (the booth's is
started on the invitation screen, muted, as the preview is), and playback.Watchdog restarts it
whenever the browser pauses it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import js
from pyodide.ffi import JsException, create_proxy

from frontend_py.dom import h
from frontend_py.playback import FRAME_WAIT_S, Action, Watchdog
from frontend_py.webgl import HAVE_CURRENT_DATA


class CameraStalled(Exception):
    """The camera gave no frame in time."""


class SourceVideo:
    def __init__(self, camera: Any) -> None:
        self.camera = camera
        # In the page (a detached video may not be decoded at all) but out of sight.
        self.element = h("video", {"class": "source-video", "muted": True, "playsInline": True})
        self.element.srcObject = camera
        self.watchdog = Watchdog()
        self.closed = False
        self._presented: asyncio.Future[None] | None = None
        self._on_presented = create_proxy(self._presented_callback)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.element.videoWidth), int(self.element.videoHeight)

    def has_frame(self) -> bool:
        return bool(self.element.videoWidth) and int(self.element.readyState) >= HAVE_CURRENT_DATA

    async def start(self, timeout_s: float) -> None:
        """Play, and return once a frame was presented; CameraStalled after `timeout_s`."""
        js.document.body.append(self.element)
        self._play()
        try:
            await asyncio.wait_for(self._first_frame(), timeout_s)
        except TimeoutError:
            raise CameraStalled() from None

    async def _first_frame(self) -> None:
        while not self.has_frame():
            if self.closed:
                raise CameraStalled()
            await self.next_frame()

    async def next_frame(self) -> None:
        """Until a new frame was presented (or, on a hidden page, the timer's next turn)."""
        while not self.closed:
            if self._presented is None:
                self._presented = asyncio.get_event_loop().create_future()
                self.element.requestVideoFrameCallback(self._on_presented)
            try:
                await asyncio.wait_for(asyncio.shield(self._presented), FRAME_WAIT_S)
            except TimeoutError:
                action = self.watchdog.after_wait(
                    paused=bool(self.element.paused), hidden=bool(js.document.hidden), has_frame=self.has_frame()
                )
                if action is Action.PLAY:
                    self._play()
                elif action is Action.REATTACH:
                    js.console.warn("camera video stalled: attaching the camera again")
                    self.element.srcObject = self.camera
                    self._presented = None  # a reloaded video may drop its frame callbacks: ask anew
                    self._play()
                elif action is Action.TAKE:
                    return
                continue
            self._presented = None
            self.watchdog.presented()
            return

    def _presented_callback(self, *_: Any) -> None:
        if self._presented is not None and not self._presented.done():
            self._presented.set_result(None)

    def _play(self) -> None:
        asyncio.ensure_future(self._play_now())

    async def _play_now(self) -> None:
        try:
            await self.element.play()
        except JsException as exc:  # interrupted or refused; the watchdog tries again
            js.console.warn(f"camera video: play() {exc}")

    def close(self) -> None:
        """Stop taking frames; whoever waits for one (next_frame) returns at once. The camera's
        tracks are not stopped: they are whoever opened them's."""
        self.closed = True
        if self._presented is not None and not self._presented.done():
            self._presented.set_result(None)
        self.element.remove()
        self.element.srcObject = None
