"""The packed frames on their way out: read back from the GPU into a canvas in memory, whose
captured stream is the video track peers receive, and handed to our own stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js

from frontend_py import webgl
from frontend_py.dom import h, js_object, spawn
from frontend_py.packing import Packer


class PackedVideo:
    """Sends what `packer` draws. `on_packed` gets each sent frame's RGBA bytes."""

    def __init__(self, packer: Packer, on_packed: Callable[[Any], None]) -> None:
        self.packer = packer
        self.on_packed = on_packed
        self.canvas = h("canvas")
        self.context = self.canvas.getContext("2d", js_object({"alpha": False, "willReadFrequently": True}))
        self.image: Any = None  # an ImageData over the packer's read-back bytes, put into `canvas`

    @property
    def reader(self) -> webgl.PixelReader:
        return self.packer.reader

    def resize(self, camera_width: int, camera_height: int) -> None:
        """Packed frames, and the canvas they are put into, for a camera picture of this size."""
        old = self.packer.reader
        self.packer.resize(camera_width, camera_height)
        if old is not None:
            old.target.delete()
            self.packer.gl.deleteBuffer(old.buffer)
        reader = self.reader
        self.canvas.width, self.canvas.height = reader.width, reader.height
        data = reader.data
        self.image = js.ImageData.new(js.Uint8ClampedArray.new(data.buffer, data.byteOffset, data.length), reader.width, reader.height)

    def capture_stream(self) -> Any:
        return self.canvas.captureStream()

    def send(self, timings: dict[str, float]) -> None:
        """Send the frame just packed, unless the GPU is still behind with the last one: then
        this frame is not sent."""
        if not self.reader.busy:
            self.reader.read()
            spawn(self._send(timings))

    async def send_now(self) -> None:
        """Send the frame just packed, and return once it is out."""
        self.reader.read()
        await self._send({})

    async def _send(self, timings: dict[str, float]) -> None:
        """Once the GPU has it: the packed frame into the captured canvas, and to our stage.
        `send` in the frame's timings is how long that took after the frame's `total`."""
        started = js.performance.now()
        pixels = await self.reader.pixels()
        self.context.putImageData(self.image, 0, 0)
        timings["send"] = js.performance.now() - started
        self.on_packed(pixels)
