"""Making the pictures: a still as PNG, a photo rendered offscreen, a strip of four photos.

A photo is rendered by the stage's own renderer (stagerenderer.py) into a render target of
the photo's size, whatever the size of the stage on screen: 1920x1080 for 16:9, 1080x1440
for 3:4. It reads back once (a photo is rare; waiting for the GPU is fine) and is encoded
as PNG by the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py import photostrip, webgl
from frontend_py.dom import js_object
from frontend_py.imagecheck import HEADER_BYTES, ImageRejected, inspect
from frontend_py.layout import PHOTO_SIZES, LayerState, StageState
from frontend_py.stagerenderer import Person, Picture, StageRenderer, picture

PNG = "image/png"
STILL_FORMATS = frozenset({"png", "webp"})


async def encode_png(pixels: Any, width: int, height: int) -> Any:
    """RGBA bytes (straight alpha, top row first) as a PNG Blob."""
    canvas = js.OffscreenCanvas.new(width, height)
    clamped = js.Uint8ClampedArray.new(pixels.buffer, pixels.byteOffset, pixels.length)
    canvas.getContext("2d").putImageData(js.ImageData.new(clamped, width, height), 0, 0)
    return await canvas.convertToBlob(js_object({"type": PNG}))


async def decode_still(data: bytes, width: int, height: int) -> Any:
    """A peer's still as an ImageBitmap, checked like an upload first (its kind, its size
    against what was announced and the pixel limits), so a bomb is never decoded.
    Raises ImageRejected."""
    info = inspect(data[:HEADER_BYTES], len(data))
    if info.format not in STILL_FORMATS or (info.width, info.height) != (width, height):
        raise ImageRejected("background.unreadable")
    blob = js.Blob.new(to_js([to_js(data)]), js_object({"type": f"image/{info.format}"}))
    try:
        return await js.createImageBitmap(blob, js_object({"premultiplyAlpha": "none", "colorSpaceConversion": "none"}))
    except Exception as exc:
        raise ImageRejected("background.truncated") from exc


async def render(
    renderer: StageRenderer, stage: StageState, layers: list[LayerState], people: Mapping[str, Person | Picture]
) -> tuple[Any, int, int]:
    """The photo's pixels (RGBA, top row first) with its width and height."""
    gl = renderer.gl
    width, height = PHOTO_SIZES[stage.aspect]
    await renderer.stickers_ready(layers)
    target = webgl.Target(gl, width, height)
    try:
        target.bind()
        renderer.draw(stage, layers, width, height, people, flip=True)
        pixels = js.Uint8Array.new(width * height * 4)
        gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels)
    finally:
        target.delete()
        gl.bindFramebuffer(gl.FRAMEBUFFER, None)
    return pixels, width, height


def still_picture(renderer: StageRenderer, bitmap: Any) -> Picture:
    return picture(renderer.gl, bitmap, int(bitmap.width), int(bitmap.height))


async def strip(kind: str, frame: str, photos: list[Any], caption: str, date_text: str) -> Any:
    """Four photos (ImageBitmaps, None for a missing one) as a print-ready PNG Blob."""
    width, height = photostrip.size(kind)
    canvas = js.OffscreenCanvas.new(width, height)
    photostrip.draw(canvas.getContext("2d"), kind, frame, photos, caption, date_text)
    return await canvas.convertToBlob(js_object({"type": PNG}))
