"""WebGL2 plumbing for the pipeline and the renderers: programs, textures, render targets.

Convention for every texture here: texel row 0 is the top of the picture (videos and images
are uploaded unflipped, tensors are row-major from the top), so shaders sample with v = 0 at
the top. Only drawing to the canvas itself flips, because the canvas' row 0 is its bottom.
"""

from __future__ import annotations

import asyncio
from typing import Any

import js
from pyodide.ffi import JsException

from frontend_py.dom import h, js_object, nullable
from frontend_py.overlays import view_box
from frontend_py.urls import here
from frontend_py.videocolorspace import yuv_to_rgb

# A triangle strip over the whole viewport; `uv` runs 0..1 with v = 0 at the top row.
FULLSCREEN_VERTEX = """#version 300 es
in vec2 corner;
out vec2 uv;
uniform bool to_canvas;
void main() {
  uv = corner;
  vec2 clip = corner * 2.0 - 1.0;
  gl_Position = vec4(clip.x, to_canvas ? -clip.y : clip.y, 0.0, 1.0);
}
"""

# Software GPUs rasterise on the CPU cores the camera pipeline and the call need too.
SOFTWARE_RENDERERS = ("swiftshader", "llvmpipe", "software")
UNMASKED_RENDERER = 0x9246  # WEBGL_debug_renderer_info
HAVE_CURRENT_DATA = 2  # HTMLMediaElement.readyState: a frame can be taken

# A picture sampled as RGB, or, in a program built with the PLANAR define, as the Y, U and V
# planes of a video frame (VideoTexture). Include in a fragment shader, then call
# rgb_at(picture, uv) instead of texture(picture, uv), or rgb_lod(picture, uv, lod) for a
# mipmap level (VideoTexture.mipmaps). A define, not a uniform: a software GPU runs both sides
# of a branch for every pixel.
RGB_AT_GLSL = """
#ifdef PLANAR
uniform sampler2D plane_u;
uniform sampler2D plane_v;
uniform mat3 yuv_to_rgb;
uniform vec3 yuv_offset;
vec3 rgb_at(sampler2D picture, vec2 at) {
  vec3 yuv = vec3(texture(picture, at).r, texture(plane_u, at).r, texture(plane_v, at).r);
  return clamp(yuv_to_rgb * (yuv - yuv_offset), 0.0, 1.0);
}
// The chroma planes are half the size: their level lod - 1 covers as much of the picture.
vec3 rgb_lod(sampler2D picture, vec2 at, float lod) {
  vec3 yuv = vec3(textureLod(picture, at, lod).r, textureLod(plane_u, at, lod - 1.0).r, textureLod(plane_v, at, lod - 1.0).r);
  return clamp(yuv_to_rgb * (yuv - yuv_offset), 0.0, 1.0);
}
#else
vec3 rgb_at(sampler2D picture, vec2 at) {
  return texture(picture, at).rgb;
}
vec3 rgb_lod(sampler2D picture, vec2 at, float lod) {
  return textureLod(picture, at, lod).rgb;
}
#endif
"""


class WebGLUnavailable(Exception):
    """The browser gave no WebGL2 context, or lacks a feature the pipeline needs."""


def context(canvas: Any, **attributes: Any) -> Any:
    defaults = {"antialias": False, "depth": False, "stencil": False, "premultipliedAlpha": True}
    gl = nullable(canvas.getContext("webgl2", js_object(dict(defaults, **attributes))))
    if gl is None:
        raise WebGLUnavailable("webgl2")
    return gl


def lose_context(gl: Any) -> None:
    """Give the context's memory back now rather than when it is collected."""
    extension = nullable(gl.getExtension("WEBGL_lose_context"))
    if extension is not None:
        extension.loseContext()


def software_renderer(gl: Any) -> bool:
    renderer = str(gl.getParameter(gl.RENDERER))
    if nullable(gl.getExtension("WEBGL_debug_renderer_info")) is not None:
        renderer = str(gl.getParameter(UNMASKED_RENDERER))
    return any(name in renderer.lower() for name in SOFTWARE_RENDERERS)


class Program:
    """A linked shader program with its uniform locations looked up once."""

    def __init__(self, gl: Any, fragment: str, vertex: str = FULLSCREEN_VERTEX, defines: tuple[str, ...] = ()) -> None:
        self.gl = gl
        self.program = gl.createProgram()
        version, _, body = fragment.partition("\n")  # #version must stay the first line
        fragment = "\n".join([version, *(f"#define {name} 1" for name in defines), body])
        for kind, source in ((gl.VERTEX_SHADER, vertex), (gl.FRAGMENT_SHADER, fragment)):
            shader = gl.createShader(kind)
            gl.shaderSource(shader, source)
            gl.compileShader(shader)
            if not gl.getShaderParameter(shader, gl.COMPILE_STATUS):
                raise WebGLUnavailable(str(gl.getShaderInfoLog(shader)))
            gl.attachShader(self.program, shader)
            gl.deleteShader(shader)  # only marked: it goes with the program
        gl.bindAttribLocation(self.program, 0, "corner")
        gl.linkProgram(self.program)
        if not gl.getProgramParameter(self.program, gl.LINK_STATUS):
            raise WebGLUnavailable(str(gl.getProgramInfoLog(self.program)))
        self.locations: dict[str, Any] = {}

    def use(self, **uniforms: Any) -> None:
        """Bind the program and set uniforms: int/bool -> int, float -> float, lists by length."""
        gl = self.gl
        gl.useProgram(self.program)
        for name, value in uniforms.items():
            location = self.locations.get(name)
            if location is None:
                location = self.locations[name] = gl.getUniformLocation(self.program, name)
            if isinstance(value, (bool, int)):
                gl.uniform1i(location, int(value))
            elif isinstance(value, float):
                gl.uniform1f(location, value)
            elif len(value) == 2:
                gl.uniform2f(location, *value)
            elif len(value) == 3:
                gl.uniform3f(location, *value)
            elif len(value) == 4:
                gl.uniform4f(location, *value)
            else:
                gl.uniformMatrix3fv(location, False, js.Float32Array.new(value))

    def delete(self) -> None:
        self.gl.deleteProgram(self.program)


def unit_quad(gl: Any) -> Any:
    """The vertex array of the unit square (0,0)-(1,1) as a strip, bound to attribute 0."""
    vao = gl.createVertexArray()
    gl.bindVertexArray(vao)
    buffer = gl.createBuffer()
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer)
    gl.bufferData(gl.ARRAY_BUFFER, js.Float32Array.new([0, 0, 1, 0, 0, 1, 1, 1]), gl.STATIC_DRAW)
    gl.enableVertexAttribArray(0)
    gl.vertexAttribPointer(0, 2, gl.FLOAT, False, 0, 0)
    return vao


def draw_quad(gl: Any) -> None:
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4)


class Texture:
    """A 2D texture sampled with clamping; linear unless `nearest`."""

    def __init__(self, gl: Any, nearest: bool = False) -> None:
        self.gl = gl
        self.texture = gl.createTexture()
        self.width = self.height = 0
        gl.bindTexture(gl.TEXTURE_2D, self.texture)
        filter_ = gl.NEAREST if nearest else gl.LINEAR
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, filter_)
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, filter_)
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE)
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE)

    def bind(self, unit: int = 0) -> None:
        self.gl.activeTexture(self.gl.TEXTURE0 + unit)
        self.gl.bindTexture(self.gl.TEXTURE_2D, self.texture)

    def upload(self, source: Any, width: int, height: int) -> None:
        """Copy a video, image or canvas into the texture (stays on the GPU side)."""
        gl = self.gl
        self.bind()
        self.width, self.height = width, height
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source)

    def upload_pixels(self, data: Any, width: int, height: int) -> None:
        """RGBA bytes, top row first (a PixelReader's)."""
        gl = self.gl
        self.bind()
        self.width, self.height = width, height
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, data)

    def upload_floats(self, data: Any, width: int, height: int) -> None:
        """One float channel (a model's output array, still a JS typed array) as R16F."""
        gl = self.gl
        self.bind()
        self.width, self.height = width, height
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R16F, width, height, 0, gl.RED, gl.FLOAT, data)

    def delete(self) -> None:
        self.gl.deleteTexture(self.texture)


class VideoTexture:
    """A video's current frame, for shaders that sample it with rgb_at().

    With a hardware GPU the frame is copied as RGB on the GPU (texImage2D). A software GPU
    would convert it on the page's main thread (SwiftShader: ~4 ms per 640x480 frame, ~8 ms
    per packed 640x960 one), so there the frame's I420 planes are copied out (~0.4 ms,
    asynchronously) and uploaded as they are (~0.8 ms); the shader converts.

    `take(video, keep_rgba=True)` copies the frame out as RGBA bytes instead, kept in `rgba`
    for work on the CPU (a model that takes frames), and leaves their upload to `upload_rgba`:
    work on the bytes elsewhere (a worker's model) can start before it."""

    def __init__(self, gl: Any, planar: bool) -> None:
        self.gl = gl
        self.may_be_planar = planar
        self.planar = False  # what the last frame was
        self.picture, self.plane_u, self.plane_v = Texture(gl), Texture(gl), Texture(gl)
        self.buffer: Any = None
        self.rgba: Any = None  # the last frame's bytes, top row first, when kept
        self.rgba_size = (0, 0)  # their width and height
        self.rgba_copy = js_object({"format": "RGBA"})  # VideoFrame.copyTo options
        self.matrix: tuple[list[float], tuple[float, float, float]] = yuv_to_rgb(None, None)

    async def take(self, video: Any, keep_rgba: bool = False) -> bool:
        """Take the video's current frame (with `keep_rgba`, its bytes, for `upload_rgba`);
        nothing while it has none (a new or stalled video). True when a frame was taken."""
        width, height = int(video.videoWidth), int(video.videoHeight)
        if not width or int(video.readyState) < HAVE_CURRENT_DATA:
            return False
        if not self.may_be_planar and not keep_rgba:
            self._upload_rgb(video, width, height)
            return True
        try:
            frame = js.VideoFrame.new(video)
        except JsException as exc:  # no frame presented yet, or a paused video: try the next one
            js.console.warn(f"video frame: {exc}")
            return False
        try:
            if keep_rgba:
                await self._copy_rgba(frame)
            elif str(frame.format) == "I420":
                await self._upload_planes(frame)
            else:  # anything else (NV12, RGBX...) the usual way
                self._upload_rgb(video, width, height)
        finally:
            frame.close()
        return True

    async def _copy_rgba(self, frame: Any) -> None:
        size = int(frame.allocationSize(self.rgba_copy))
        if self.rgba is None or self.rgba.length != size:
            self.rgba = js.Uint8Array.new(size)
        await frame.copyTo(self.rgba, self.rgba_copy)
        self.rgba_size = int(frame.visibleRect.width), int(frame.visibleRect.height)

    def upload_rgba(self) -> None:
        """Upload the bytes `take` kept."""
        self.picture.upload_pixels(self.rgba, *self.rgba_size)
        self.planar = False

    async def _upload_planes(self, frame: Any) -> None:
        size = int(frame.allocationSize())
        if self.buffer is None or self.buffer.length < size:
            self.buffer = js.Uint8Array.new(size)
        layout = await frame.copyTo(self.buffer)
        width, height = int(frame.visibleRect.width), int(frame.visibleRect.height)
        chroma = ((width + 1) // 2, (height + 1) // 2)
        for texture, plane, (plane_width, plane_height) in zip(
            (self.picture, self.plane_u, self.plane_v), layout, ((width, height), chroma, chroma)
        ):
            self._upload_plane(texture, plane, plane_width, plane_height)
        space = frame.colorSpace
        self.matrix = yuv_to_rgb(nullable(space.matrix), nullable(space.fullRange))
        self.planar = True

    def blank(self, width: int, height: int) -> None:
        """A frame of zero bytes of that size, as planes where frames may come as planes:
        something to draw before any frame has come (StageRenderer.warm_up)."""
        if not self.may_be_planar:
            self.picture.upload_pixels(js.Uint8Array.new(width * height * 4), width, height)
            self.planar = False
            return
        chroma = ((width + 1) // 2, (height + 1) // 2)
        self.buffer = js.Uint8Array.new(width * height)
        for texture, (plane_width, plane_height) in zip((self.picture, self.plane_u, self.plane_v), ((width, height), chroma, chroma)):
            self._upload_plane(texture, js_object({"stride": plane_width, "offset": 0}), plane_width, plane_height)
        self.planar = True

    def _upload_rgb(self, video: Any, width: int, height: int) -> None:
        self.picture.upload(video, width, height)
        self.planar = False

    def _upload_plane(self, texture: Texture, plane: Any, width: int, height: int) -> None:
        gl = self.gl
        texture.bind()
        texture.width, texture.height = width, height
        gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1)
        gl.pixelStorei(gl.UNPACK_ROW_LENGTH, int(plane.stride))
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, width, height, 0, gl.RED, gl.UNSIGNED_BYTE, self.buffer, int(plane.offset))
        gl.pixelStorei(gl.UNPACK_ROW_LENGTH, 0)
        gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4)

    def mipmaps(self, on: bool) -> None:
        """Build the current frame's mipmaps and sample them (rgb_lod), or sample level 0 only
        again: the next upload replaces level 0 alone, and stale levels must not be read."""
        gl = self.gl
        for texture in (self.picture, self.plane_u, self.plane_v) if self.planar else (self.picture,):
            texture.bind()
            if on:
                gl.generateMipmap(gl.TEXTURE_2D)
            gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_LINEAR if on else gl.LINEAR)

    def bind(self, unit: int, unit_u: int, unit_v: int) -> dict[str, Any]:
        """Bind to texture units; returns the uniforms rgb_at() needs besides `picture` (`unit`).
        Draw with a program built with the PLANAR define when `planar` is true."""
        self.picture.bind(unit)
        if not self.planar:
            return {}
        self.plane_u.bind(unit_u)
        self.plane_v.bind(unit_v)
        columns, offset = self.matrix
        return {"plane_u": unit_u, "plane_v": unit_v, "yuv_to_rgb": columns, "yuv_offset": offset}

    def delete(self) -> None:
        for texture in (self.picture, self.plane_u, self.plane_v):
            texture.delete()


class Target:
    """A texture to render into. `floats` makes it RGBA32F so readPixels gives model input."""

    def __init__(self, gl: Any, width: int, height: int, floats: bool = False) -> None:
        self.gl, self.width, self.height, self.floats = gl, width, height, floats
        self.texture = Texture(gl, nearest=floats)
        self.texture.bind()
        self.texture.width, self.texture.height = width, height
        if floats:
            if nullable(gl.getExtension("EXT_color_buffer_float")) is None:
                raise WebGLUnavailable("EXT_color_buffer_float")
            gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, width, height, 0, gl.RGBA, gl.FLOAT, None)
        else:
            gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, None)
        self.framebuffer = gl.createFramebuffer()
        gl.bindFramebuffer(gl.FRAMEBUFFER, self.framebuffer)
        gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, self.texture.texture, 0)
        gl.bindFramebuffer(gl.FRAMEBUFFER, None)

    def bind(self) -> None:
        self.gl.bindFramebuffer(self.gl.FRAMEBUFFER, self.framebuffer)
        self.gl.viewport(0, 0, self.width, self.height)

    def delete(self) -> None:
        self.gl.deleteFramebuffer(self.framebuffer)
        self.texture.delete()


class PixelReader:
    """A render target read back without stalling the page: `read()` after drawing queues the
    target's pixels into a pixel buffer; `pixels()` gives them once the GPU is done, top row
    first (the target's row 0 is the picture's top).

    A synchronous read (readPixels into memory, or a captured WebGL canvas, which the browser
    reads back when it changes) waits for everything queued on the GPU: 30-60 ms at a time
    on a software GPU shared by a page's contexts. Polling a fence instead costs ~2 ms."""

    POLL_S = 0.003

    def __init__(self, target: Target) -> None:
        gl = self.gl = target.gl
        self.target, self.width, self.height = target, target.width, target.height
        self.buffer = gl.createBuffer()
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, self.buffer)
        gl.bufferData(gl.PIXEL_PACK_BUFFER, self.width * self.height * 4, gl.STREAM_READ)
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, None)
        self.data = js.Uint8Array.new(self.width * self.height * 4)
        self.fence: Any = None

    @property
    def busy(self) -> bool:
        """A read is in flight: a new one would make the browser throw its fast path away."""
        return self.fence is not None

    async def idle(self) -> None:
        """Until no read is in flight: the GPU has finished the frame last read."""
        while self.busy:
            await asyncio.sleep(self.POLL_S)

    def read(self) -> None:
        gl = self.gl
        self.target.bind()
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, self.buffer)
        gl.readPixels(0, 0, self.width, self.height, gl.RGBA, gl.UNSIGNED_BYTE, 0)
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, None)
        self.fence = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0)
        gl.flush()  # else the fence only reaches the GPU with the next frame's work

    async def pixels(self) -> Any:
        """The frame `read()` queued, as RGBA bytes (the same array each time)."""
        gl = self.gl
        while gl.clientWaitSync(self.fence, 0, 0) == gl.TIMEOUT_EXPIRED:
            await asyncio.sleep(self.POLL_S)
        gl.deleteSync(self.fence)
        self.fence = None
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, self.buffer)
        gl.getBufferSubData(gl.PIXEL_PACK_BUFFER, 0, self.data)
        gl.bindBuffer(gl.PIXEL_PACK_BUFFER, None)
        return self.data


def bind_canvas(gl: Any, width: int, height: int) -> None:
    gl.bindFramebuffer(gl.FRAMEBUFFER, None)
    gl.viewport(0, 0, width, height)


async def overlay_art(gl: Any, name: str) -> tuple[Texture, tuple[float, float, float, float]]:
    """An overlay's SVG as a premultiplied texture, with its viewBox (its extent in face units)."""
    url = here().app(f"frontend_py/overlays/{name}.svg")
    box = view_box(await (await js.fetch(url)).text())
    image = h("img")
    image.src = url
    await image.decode()
    texture = Texture(gl)
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, True)
    texture.upload(image, int(image.naturalWidth), int(image.naturalHeight))
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, False)
    return texture, box
