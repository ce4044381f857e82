"""Clips in the booth: the record button, its timer, who is recording, and sharing a clip.

recording.py makes the clip; this module is the room's side of it. While anyone records,
every participant sees who (people must know they are being recorded): a `recording`
message goes to everyone at the start and the end, and to anyone who arrives meanwhile. A
clip stays with the person who recorded it until they share it from their gallery; it then
travels to everyone as binary chunks (transfers.py) with a progress bar on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py import clipformat, transfers
from frontend_py.capture import Capture
from frontend_py.datachannel import ClipHeader, Recording
from frontend_py.dom import h, js_object, on, spawn
from frontend_py.gallery import Gallery
from frontend_py.layout import Layout
from frontend_py.mesh import Mesh
from frontend_py.recording import ClipRecorder, RecordingUnavailable
from frontend_py.shutter import PressLimit
from frontend_py.stagerenderer import StageRenderer
from frontend_py.ui import set_text, t, text


class Clips:
    """`videos()` and `audio_streams()` as ClipRecorder takes them; `names()` everyone's names."""

    def __init__(
        self, own_id: str, mesh: Mesh, layout: Layout, renderer: StageRenderer, gallery: Gallery, capture: Capture,
        videos: Callable[[], dict[str, Any]], audio_streams: Callable[[], list[Any]], names: Callable[[], dict[str, str]],
    ) -> None:
        self.own_id, self.mesh, self.gallery, self.capture, self.names = own_id, mesh, gallery, capture, names
        self.recorders: set[str] = set()  # who records now, ourselves included
        self.limit = PressLimit()
        self.recorder = ClipRecorder(layout, videos, audio_streams, self._tick, self._done, renderer.images, self._failed)
        self.button = h("button", {"id": "record", "class": "button record", "type": "button", "aria-pressed": "false"},
                        h("span", {"class": "record-dot", "aria-hidden": "true"}), text("span", "clip.record", {"class": "record-label"}))
        self.timer = h("span", {"id": "record-timer", "class": "record-timer", "hidden": True})
        self.indicator = h("p", {"id": "recording-indicator", "class": "recording-indicator", "role": "status", "hidden": True})
        self.error = h("p", {"id": "clip-error", "class": "error-text", "role": "alert", "hidden": True})
        self.progress_label = h("span", {"id": "clip-transfer-label"})
        self.progress_bar = h("progress", {"id": "clip-transfer", "max": "1", "value": "0"})
        self.progress = h("div", {"class": "clip-transfer", "hidden": True}, self.progress_label, self.progress_bar)
        self.controls = h("div", {"class": "record-controls"}, self.button, self.timer)
        on(self.button, "click", lambda _: self.toggle())
        capture.on_recording = self._peer_recording
        capture.on_clip = self._clip_arrived
        capture.on_clip_progress = self._clip_progress
        gallery.on_share_clip = self.share

    # ----------------------------------------------------------------- recording

    def toggle(self) -> None:
        if self.recorder.recording:
            self.recorder.stop()
            return
        self.error.hidden = True
        try:
            self.recorder.start()
        except RecordingUnavailable as unavailable:
            self._failed(unavailable.key)
            return
        self._set_recording(self.own_id, True)
        self.mesh.broadcast(Recording(True).message())
        self.button.setAttribute("aria-pressed", "true")
        set_text(self.button.querySelector(".record-label"), "clip.stop")
        self.timer.hidden = False

    def _tick(self, elapsed: float) -> None:
        self.timer.textContent = f"{clipformat.timer_text(elapsed)} / {clipformat.timer_text(clipformat.MAX_SECONDS)}"

    def _stopped(self) -> None:
        self._set_recording(self.own_id, False)
        self.mesh.broadcast(Recording(False).message())
        self.button.setAttribute("aria-pressed", "false")
        set_text(self.button.querySelector(".record-label"), "clip.record")
        self.timer.hidden = True

    async def _done(self, blob: Any, mime: str, duration_ms: float, width: int, height: int) -> None:
        self._stopped()
        await self.gallery.add("clip", blob, width, height, js.Date.now())
        self.capture.controls.taken()

    def _failed(self, key: str) -> None:
        if self.own_id in self.recorders:
            self._stopped()
        set_text(self.error, key)
        self.error.hidden = False

    def refresh(self) -> None:
        """People came or went: the mix follows."""
        if self.recorder.recording:
            self.recorder.refresh_audio()

    # ----------------------------------------------------------------- who records

    def channel_open(self, peer: str) -> None:
        if self.own_id in self.recorders:
            self.mesh.send(peer, Recording(True).message())

    def _peer_recording(self, peer: str, recording: bool) -> None:
        if recording and not self.limit.allow(peer, time.monotonic()):
            return
        self._set_recording(peer, recording)

    def peer_left(self, peer: str) -> None:
        self.limit.forget(peer)
        self._set_recording(peer, False)
        self.refresh()

    def _set_recording(self, peer: str, recording: bool) -> None:
        if recording:
            self.recorders.add(peer)
        else:
            self.recorders.discard(peer)
        names = self.names()
        shown = sorted(t("you") if who == self.own_id else names.get(who, "…") for who in self.recorders)
        self.indicator.hidden = not shown
        if shown:
            set_text(self.indicator, "clip.recording_by", names=", ".join(shown))

    # ----------------------------------------------------------------- sharing

    def share(self, entry_id: str) -> None:
        entry = next((entry for entry in self.gallery.entries if entry.id == entry_id), None)
        if entry is not None:
            spawn(self._share(entry))

    async def _share(self, entry: Any) -> None:
        data = js.Uint8Array.new(await entry.blob.arrayBuffer())
        mime = str(entry.blob.type).split(";")[0]
        header = ClipHeader(self.capture.next_transfer(), int(data.length), mime, entry.width, entry.height)
        peers = list(self.mesh.links)
        for number, peer in enumerate(peers):
            await transfers.send(self.mesh, peer, header, data, lambda part, n=number: self._show_progress("clip.sending", (n + part) / len(peers)))
        self.progress.hidden = True

    def _clip_progress(self, peer: str, fraction: float) -> None:
        self._show_progress("clip.receiving", fraction, name=self.names().get(peer, "…"))

    def _show_progress(self, key: str, fraction: float, **values: object) -> None:
        self.progress.hidden = fraction >= 1
        set_text(self.progress_label, key, **values)
        self.progress_bar.value = fraction

    def _clip_arrived(self, peer: str, header: ClipHeader, data: bytes) -> None:
        self.progress.hidden = True
        blob = js.Blob.new(to_js([to_js(data)]), js_object({"type": header.mime}))
        name = self.names().get(peer, "…")
        spawn(self.gallery.add("clip", blob, header.width, header.height, js.Date.now(), "clip.shared_by", {"name": name}))

    def report(self) -> dict[str, Any]:
        """For the tests and bench/capture.py."""
        return {
            "recording": self.recorder.recording,
            "recorders": sorted(self.recorders),
            "fps": round(self.recorder.fps, 1),
            "frames": self.recorder.frames_drawn,
            "skipped": self.recorder.frames_skipped,
        }

    def close(self) -> None:
        self.recorder.close()
