"""Switching camera and microphone inside the booth, without leaving it.

The panel: "Switch camera" (front and back on a phone, round the cameras on a computer: which
one is next is devices.next_camera), and a camera and a microphone list; a choice takes effect
at once. A device that cannot be opened is explained in the panel and the booth goes on with the
one it had. Choices are remembered as the lobby remembers them, so a rejoin opens them.

How a switch reaches everything (`switch_camera`, `switch_microphone`):
- camera: the pipeline takes its frames from the new camera (Pipeline.use_camera); the video
  peers receive stays the same track (the pipeline's canvas), so nothing is renegotiated.
- microphone: the new track goes into the sent stream and onto every connection's audio sender
  (RTCRtpSender.replaceTrack: no renegotiation either), muted if we are (Mesh.replace_audio).
Either way the booth's camera stream (the room's) holds the new track instead of the old one,
which is stopped: what reads that stream (clip voices, leaving) sees the devices in use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import js
from pyodide.ffi import create_proxy

from frontend_py import devices, media
from frontend_py.dom import h, on, spawn
from frontend_py.lobby import CAMERA_KEY, MICROPHONE_KEY
from frontend_py.mesh import Mesh
from frontend_py.pipeline import Pipeline
from frontend_py.sourcevideo import CameraStalled
from frontend_py.ui import set_text, text

STALLED = "stalled"  # MediaError reason: the camera opened but gave no picture


async def switch_camera(pipeline: Pipeline, camera_id: str) -> None:
    """Send the camera `camera_id` from now on. Raises media.MediaError when it cannot be used;
    the booth then goes on with the camera it had (opened again if it had to be let go)."""
    previous = media.device_id(pipeline.camera, "video")
    try:
        stream = await _open_instead(media.open_video, camera_id, pipeline.camera.getVideoTracks())
        await _use_camera(pipeline, stream)
    except media.MediaError:
        if _ended(pipeline.camera.getVideoTracks()):
            try:
                await _use_camera(pipeline, await media.open_video(previous))
            except media.MediaError as again:
                js.console.error(f"the camera in use before could not be opened again: {again}")
        raise


async def _use_camera(pipeline: Pipeline, stream: Any) -> None:
    try:
        await pipeline.use_camera(stream)
    except CameraStalled:
        media.stop(stream)
        raise media.MediaError("devices.stalled", STALLED) from None


async def switch_microphone(mesh: Mesh, camera: Any, microphone_id: str) -> Any:
    """Make the microphone `microphone_id` our voice from now on: in `camera` (the booth's camera
    stream) and everything the mesh sends. Returns its track. Raises media.MediaError when it
    cannot be opened; the booth then goes on with the microphone it had (opened again if it had
    to be let go: the voice's track changed all the same)."""
    previous = media.device_id(camera, "audio")
    try:
        track = await _open_instead(media.open_microphone, microphone_id, camera.getAudioTracks())
    except media.MediaError:
        if _ended(camera.getAudioTracks()):
            try:
                await _use_microphone(mesh, camera, await media.open_microphone(previous))
            except media.MediaError as again:
                js.console.error(f"the microphone in use before could not be opened again: {again}")
        raise
    await _use_microphone(mesh, camera, track)
    return track


async def _use_microphone(mesh: Mesh, camera: Any, track: Any) -> None:
    media.swap_track(camera, track)  # the old track, the same in both streams, the mesh stops
    await mesh.replace_audio(track)


async def _open_instead(open_device: Callable[[str], Awaitable[Any]], device_id: str, in_use: Any) -> Any:
    """Open a device while the one in use still runs; if it is busy, let go of the one in use
    and ask again: many phones open one camera at a time."""
    try:
        return await open_device(device_id)
    except media.MediaError as error:
        if error.reason != devices.BUSY or not len(in_use):
            raise
        for track in in_use:
            track.stop()
        return await open_device(device_id)


def _ended(tracks: Any) -> bool:
    return any(track.readyState == "ended" for track in tracks)


class DeviceChoice:
    """The panel (`element`). `camera` is the booth's camera MediaStream, whose tracks say which
    devices are in use (the switches keep it current); `switch_camera(id)` and
    `switch_microphone(id)` switch, raising media.MediaError (its `key` is shown) when they
    cannot. Call `close()` when the booth closes."""

    def __init__(
        self,
        camera: Any,
        switch_camera: Callable[[str], Awaitable[None]],
        switch_microphone: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.camera = camera
        self.switches = {"video": switch_camera, "audio": switch_microphone}
        self.flip = text(
            "button", "devices.switch_camera",
            {"id": "switch-camera", "class": "button secondary", "type": "button", "hidden": True},
        )
        self.cameras = h("select", {"id": "camera-choice"})
        self.microphones = h("select", {"id": "microphone-choice"})
        self.error = h("p", {"id": "device-error", "class": "field-error", "role": "alert", "hidden": True})
        self.element = h(
            "section",
            {"class": "panel device-choice"},
            text("h2", "devices.title"),
            self.flip,
            h(
                "div",
                {"class": "devices"},
                h("label", {}, text("span", "camera.label"), self.cameras),
                h("label", {}, text("span", "mic.label"), self.microphones),
            ),
            self.error,
        )
        self.listed: list[devices.Camera] = []
        self._switching = asyncio.Lock()
        on(self.flip, "click", self._flip)
        on(self.cameras, "change", lambda _: self.choose("video", self.cameras.value))
        on(self.microphones, "change", lambda _: self.choose("audio", self.microphones.value))
        self._on_devicechange = create_proxy(self._devices_changed)
        js.navigator.mediaDevices.addEventListener("devicechange", self._on_devicechange)
        spawn(self.refresh())

    async def refresh(self) -> None:
        """List the devices there are now, the ones in use chosen."""
        found = await media.list_devices()
        self.listed = [devices.Camera(i, label, found.facing.get(i, "")) for i, label in found.cameras]
        for select, options, kind in (
            (self.cameras, found.cameras, "video"),
            (self.microphones, found.microphones, "audio"),
        ):
            in_use = media.device_id(self.camera, kind)
            select.replaceChildren(*[h("option", {"value": i, "selected": i == in_use}, label) for i, label in options])
            select.disabled = not options or self._switching.locked()
        self.flip.hidden = len(self.listed) < 2

    def _devices_changed(self, _: Any) -> None:
        """A device was plugged in or out (or allowed): the lists follow."""
        spawn(self.refresh())

    async def _flip(self, _: Any) -> None:
        in_use = media.device_id(self.camera, "video")
        camera = devices.next_camera(self.listed, in_use, media.facing_mode(self.camera))
        if camera is not None:
            await self.choose("video", camera)

    async def choose(self, kind: str, device_id: str) -> None:
        """Switch the camera ("video") or microphone ("audio") to `device_id`."""
        if self._switching.locked() or device_id == media.device_id(self.camera, kind):
            return
        async with self._switching:
            self._set_busy(True)
            self.error.hidden = True
            try:
                await self.switches[kind](device_id)
            except media.MediaError as error:
                self._show_error(error.key)
            except Exception as exc:  # noqa: BLE001 (whatever failed, the person is told and keeps the old device)
                js.console.error(f"switching {kind}: {exc}")
                self._show_error("devices.failed")
            else:
                js.localStorage.setItem(CAMERA_KEY if kind == "video" else MICROPHONE_KEY, device_id)
            finally:
                self._set_busy(False)
        await self.refresh()

    def _set_busy(self, busy: bool) -> None:
        for control in (self.flip, self.cameras, self.microphones):
            control.disabled = busy
        self.element.setAttribute("aria-busy", "true" if busy else "false")

    def _show_error(self, key: str) -> None:
        set_text(self.error, key)
        self.error.hidden = False

    def close(self) -> None:
        js.navigator.mediaDevices.removeEventListener("devicechange", self._on_devicechange)
        self._on_devicechange.destroy()
