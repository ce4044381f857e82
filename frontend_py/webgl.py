"""WebGL2 plumbing for the pipeline and the renderers: programs, textures, render targets.

Convention for every texture here: texel row 0 is the top of the picture (videos and images
are uploaded unflipped, tensors are row-major from the top), so shaders sample with v = 0 at
the top. Only drawing to the canvas itself flips, because the canvas' row 0 is its bottom.
"""

from __future__ import annotations

from typing import Any

import js

from frontend_py.dom import h, js_object, nullable
from frontend_py.overlays import view_box

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


class WebGLUnavailable(Exception):
    """The browser gave no WebGL2 context, or lacks a feature the pipeline needs."""


def context(canvas: Any, **attributes: Any) -> Any:
    defaults = {"antialias": False, "depth": False, "stencil": False, "premultipliedAlpha": True}
    gl = nullable(canvas.getContext("webgl2", js_object(dict(defaults, **attributes))))
    if gl is None:
        raise WebGLUnavailable("webgl2")
    return gl


class Program:
    """A linked shader program with its uniform locations looked up once."""

    def __init__(self, gl: Any, fragment: str, vertex: str = FULLSCREEN_VERTEX) -> None:
        self.gl = gl
        self.program = gl.createProgram()
        for kind, source in ((gl.VERTEX_SHADER, vertex), (gl.FRAGMENT_SHADER, fragment)):
            shader = gl.createShader(kind)
            gl.shaderSource(shader, source)
            gl.compileShader(shader)
            if not gl.getShaderParameter(shader, gl.COMPILE_STATUS):
                raise WebGLUnavailable(str(gl.getShaderInfoLog(shader)))
            gl.attachShader(self.program, shader)
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
            if isinstance(value, bool) or isinstance(value, int):
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

    def upload_floats(self, data: Any, width: int, height: int) -> None:
        """One float channel (a model's output array, still a JS typed array) as R16F."""
        gl = self.gl
        self.bind()
        self.width, self.height = width, height
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R16F, width, height, 0, gl.RED, gl.FLOAT, data)

    def delete(self) -> None:
        self.gl.deleteTexture(self.texture)


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

    def read_floats(self, into: Any) -> Any:
        """Read the whole float target into a JS Float32Array of width*height*4 values."""
        gl = self.gl
        self.bind()
        gl.readPixels(0, 0, self.width, self.height, gl.RGBA, gl.FLOAT, into)
        return into


def bind_canvas(gl: Any, width: int, height: int) -> None:
    gl.bindFramebuffer(gl.FRAMEBUFFER, None)
    gl.viewport(0, 0, width, height)


async def overlay_art(gl: Any, name: str) -> tuple[Texture, tuple[float, float, float, float]]:
    """An overlay's SVG as a premultiplied texture, with its viewBox (its extent in face units)."""
    url = f"/frontend_py/overlays/{name}.svg"
    box = view_box(await (await js.fetch(url)).text())
    image = h("img")
    image.src = url
    await image.decode()
    texture = Texture(gl)
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, True)
    texture.upload(image, int(image.naturalWidth), int(image.naturalHeight))
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, False)
    return texture, box
