"""Receiver side of the packed track on its own: one person, unpacked, on a transparent canvas.

The stage unpacks everyone in its own shader; a CutoutView is for one person alone: it
draws the packed video into a transparent canvas each time a new frame arrives (with the
diagnostics switch on, the page's `clovCutout(peer)` hook returns one such frame as a PNG,
alpha included).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyodide.ffi import create_proxy

from frontend_py import webgl
from frontend_py.dom import h

# The packed frame's layout (docs/media.md), as one GLSL function shared with the stage,
# which also gives it frames as Y, U and V planes (webgl.VideoTexture).
UNPACK_GLSL = webgl.RGB_AT_GLSL + """
vec4 unpack(sampler2D packed, vec2 at, float half_texel) {
  // Stay half a texel away from the seam so filtering never mixes the two halves.
  vec3 rgb = rgb_at(packed, vec2(at.x, min(at.y * 0.5, 0.5 - half_texel)));
  float alpha = rgb_at(packed, vec2(at.x, max(0.5 + at.y * 0.5, 0.5 + half_texel))).g;
  // The codec leaves a few levels of noise around pure black and white.
  alpha = clamp((alpha - 0.04) / 0.92, 0.0, 1.0);
  return vec4(rgb * alpha, alpha);
}
"""

UNPACK_FRAGMENT = f"""#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D packed;
uniform float half_texel;
out vec4 colour;
{UNPACK_GLSL}
void main() {{
  colour = unpack(packed, uv, half_texel);
}}
"""


class CutoutView:
    """`canvas` shows the person in `video` (a packed stream) with a transparent background."""

    def __init__(self, video: Any) -> None:
        self.video = video
        self.canvas = h("canvas", {"class": "cutout"})
        # Kept after compositing so a screenshot or test can read what is shown.
        self.gl = webgl.context(self.canvas, premultipliedAlpha=True, preserveDrawingBuffer=True)
        self.program = webgl.Program(self.gl, UNPACK_FRAGMENT)
        self.quad = webgl.unit_quad(self.gl)
        self.texture = webgl.Texture(self.gl)
        self.closed = False
        self.drawn: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._on_frame = create_proxy(self._draw)
        self._pending = video.requestVideoFrameCallback(self._on_frame)

    def _draw(self, *_: Any) -> None:
        if self.closed:
            return
        width, packed_height = int(self.video.videoWidth), int(self.video.videoHeight)
        if width and packed_height >= 2:
            height = packed_height // 2
            if self.canvas.width != width or self.canvas.height != height:
                self.canvas.width, self.canvas.height = width, height
            gl = self.gl
            self.texture.upload(self.video, width, packed_height)
            webgl.bind_canvas(gl, width, height)
            gl.clearColor(0, 0, 0, 0)
            gl.clear(gl.COLOR_BUFFER_BIT)
            self.program.use(packed=0, half_texel=0.5 / packed_height, to_canvas=True)
            webgl.draw_quad(gl)
            if not self.drawn.done():
                self.drawn.set_result(None)
        self._pending = self.video.requestVideoFrameCallback(self._on_frame)

    def close(self) -> None:
        self.closed = True
        self.video.cancelVideoFrameCallback(self._pending)
        self._on_frame.destroy()
