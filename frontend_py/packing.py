"""The packed frame: what of our camera leaves the device, colour on top and alpha below.

Video codecs carry no alpha, so the frame sent to peers is twice the camera's height: colour in
the top half, alpha as grey in the bottom half (docs/media.md). The colour half obeys the
privacy mode (privacy.py), decided in the one shader that draws it, with no extra pass:

- masked: the camera only where the person's matte, dilated past the feathered edge, says
  person; a constant colour everywhere else, so no pixel of the background is ever encoded;
- blurred: the camera sampled from a small mipmap level, past recognition (alpha white);
- camera: the picture as it is (alpha white).

Overlays are drawn into both halves afterwards, in face space. The packed frame may be
smaller than the camera's (the camera opens at up to 1280x720, peers get at most
bandwidth.MAX_SENT_PIXELS); a still (`still`) is the same cut-out at the camera's own size, for photos.
"""

from __future__ import annotations

import math
from typing import Any

import js

from frontend_py import webgl
from frontend_py.bandwidth import sent_size
from frontend_py.facetracking import Face, mean_point
from frontend_py.overlays import Overlay, placement, quad_matrix
from frontend_py.privacy import Mode

Art = tuple[webgl.Texture, tuple[float, float, float, float]]  # an overlay's texture and viewBox
HIDDEN_COLOUR = (0.5, 0.5, 0.5)  # mid grey: neutral in every chroma plane, cheap to encode
# The matte values over which the alpha half feathers from 0 to 1. The colour is sent where
# the matte, dilated (personmask.py), reaches the first: the receiver's filtering and the
# codec's blur of the alpha edge then never mix the constant colour into the person, and no
# pixel the alpha hides (such as a doubtful patch of background beside a shoulder) is sent.
MATTE_EDGE = (0.3, 0.7)
BLUR_WIDTH = 20  # texels across the mipmap level the blurred picture is sampled from: 640x480 -> 20x15

COLOUR_FRAGMENT = f"""#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D camera;
uniform sampler2D matte;  // personmask.PersonMask.texture: red, the mask; green, it dilated
uniform vec2 blur_step;
uniform float blur_level;
out vec4 colour;
{webgl.RGB_AT_GLSL}
void main() {{
#if defined(MASKED)
  vec2 person = texture(matte, uv).rg;
  colour = vec4(person.g > {MATTE_EDGE[0]} ? rgb_at(camera, uv) : vec3{HIDDEN_COLOUR}, 1.0);
#ifdef STILL
  // Colour and alpha in one picture, premultiplied so the overlays blend in as on the stage.
  colour *= smoothstep({MATTE_EDGE[0]}, {MATTE_EDGE[1]}, person.r);
#endif
#elif defined(BLURRED)
  // Four taps around the point on a tiny mip level: a tent over ~20x15 texels, no blocks.
  vec3 sum = rgb_lod(camera, uv + blur_step, blur_level) + rgb_lod(camera, uv - blur_step, blur_level)
           + rgb_lod(camera, uv + vec2(blur_step.x, -blur_step.y), blur_level)
           + rgb_lod(camera, uv + vec2(-blur_step.x, blur_step.y), blur_level);
  colour = vec4(sum * 0.25, 1.0);
#else
  colour = vec4(rgb_at(camera, uv), 1.0);
#endif
}}
"""

ALPHA_FRAGMENT = f"""#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D matte;
out vec4 colour;
void main() {{
  colour = vec4(vec3(smoothstep({MATTE_EDGE[0]}, {MATTE_EDGE[1]}, texture(matte, uv).r)), 1.0);
}}
"""

OVERLAY_VERTEX = """#version 300 es
in vec2 corner;
out vec2 uv;
uniform mat3 to_frame;   // unit square -> camera pixels
uniform vec2 frame;      // the camera's size in pixels
uniform float half_index; // 0: the colour half, 1: the alpha half
uniform float halves;    // 2 in a packed frame, 1 in a still
void main() {
  uv = corner;
  vec2 p = (to_frame * vec3(corner, 1.0)).xy;
  gl_Position = vec4(p.x / frame.x * 2.0 - 1.0, (p.y + half_index * frame.y) / frame.y * 2.0 / halves - 1.0, 0.0, 1.0);
}
"""

UNPREMULTIPLY_FRAGMENT = f"""#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D still;
out vec4 colour;
void main() {{
  vec4 texel = texture(still, uv);
  // Where nothing shows, the constant colour: the background never leaves, even as alpha 0.
  colour = texel.a > 0.0 ? vec4(texel.rgb / texel.a, texel.a) : vec4(vec3{HIDDEN_COLOUR}, 0.0);
}}
"""

OVERLAY_FRAGMENT = """#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D art;
uniform bool alpha_pass;
out vec4 colour;
void main() {
  vec4 texel = texture(art, uv);  // premultiplied
  colour = alpha_pass ? vec4(vec3(texel.a), 1.0) : texel;
}
"""


class Packer:
    """Draws packed frames of `frame` (the camera's current frame) into a render target that
    `reader` brings back without stalling the page."""

    def __init__(self, gl: Any, frame: webgl.VideoTexture) -> None:
        self.gl, self.frame = gl, frame
        # One program per privacy mode and frame format (planar or not, webgl.VideoTexture):
        # defines, not uniforms, since a software GPU runs both sides of a branch per pixel.
        self.colour_programs = {
            (mode, planar): webgl.Program(gl, COLOUR_FRAGMENT, defines=(mode.name, *(("PLANAR",) if planar else ())))
            for mode in Mode for planar in (False, True)
        }
        self.alpha_program = webgl.Program(gl, ALPHA_FRAGMENT)
        self.overlay_program = webgl.Program(gl, OVERLAY_FRAGMENT, OVERLAY_VERTEX)
        self.still_programs: dict[bool, webgl.Program] = {}  # made at the first still
        self.width = self.height = 0
        self.camera_size = (0, 0)
        self.reader: webgl.PixelReader | None = None

    def resize(self, camera_width: int, camera_height: int) -> None:
        """Packed frames for a camera of this size (bandwidth.sent_size)."""
        self.width, self.height = sent_size(camera_width, camera_height)
        self.camera_size = (camera_width, camera_height)
        self.reader = webgl.PixelReader(webgl.Target(self.gl, self.width, 2 * self.height))

    def _blur(self) -> dict[str, Any]:
        """The blurred mode's uniforms: the same blur whatever the camera's size."""
        width, height = self.camera_size
        level = math.log2(max(1.0, width / BLUR_WIDTH))
        return {"blur_level": level, "blur_step": (0.5 * 2**level / width, 0.5 * 2**level / height)}

    def pack(self, mode: Mode, matte: webgl.Texture) -> None:
        """Both halves of a frame; `matte` is the refined person mask (read when masked)."""
        gl = self.gl
        self.reader.target.bind()
        gl.viewport(0, 0, self.width, self.height)
        if mode is Mode.BLURRED:
            self.frame.mipmaps(True)  # before binding: it binds each texture to build it
        units = self.frame.bind(0, 1, 2)
        matte.bind(3)
        self.colour_programs[mode, self.frame.planar].use(
            camera=0, matte=3, to_canvas=False,
            **self._blur(),
            **units,
        )
        webgl.draw_quad(gl)
        if mode is Mode.BLURRED:
            self.frame.mipmaps(False)
        gl.viewport(0, self.height, self.width, self.height)
        if mode is Mode.MASKED:
            self.alpha_program.use(matte=3, to_canvas=False)
            webgl.draw_quad(gl)
        else:
            gl.enable(gl.SCISSOR_TEST)
            gl.scissor(0, self.height, self.width, self.height)
            gl.clearColor(1, 1, 1, 1)
            gl.clear(gl.COLOR_BUFFER_BIT)
            gl.disable(gl.SCISSOR_TEST)
        gl.viewport(0, 0, self.width, 2 * self.height)

    def still(self, mode: Mode, matte: webgl.Texture, overlay: tuple[Overlay, Art, list[Face]] | None) -> Any:
        """The current frame as a cut-out at the camera's size, straight alpha, top row first,
        as RGBA bytes: the mask upsampled from the matte, the overlays drawn in."""
        gl = self.gl
        width, height = self.camera_size
        # A frame's shaders all sample by uv: drawn into a camera-sized target they give the
        # camera's full resolution, and the matte is upsampled on the way.
        if not self.still_programs:
            self.still_programs = {planar: webgl.Program(gl, COLOUR_FRAGMENT, defines=("MASKED", "STILL", *(("PLANAR",) if planar else ()))) for planar in (False, True)}
            self.unpremultiply_program = webgl.Program(gl, UNPREMULTIPLY_FRAGMENT)
        premultiplied, straight = webgl.Target(gl, width, height), webgl.Target(gl, width, height)
        try:
            premultiplied.bind()
            if mode is Mode.BLURRED:
                self.frame.mipmaps(True)
            units = self.frame.bind(0, 1, 2)
            matte.bind(3)
            if mode is Mode.MASKED:
                self.still_programs[self.frame.planar].use(
                    camera=0, matte=3, to_canvas=False, **units
                )
            else:
                self.colour_programs[mode, self.frame.planar].use(
                    camera=0, matte=3, to_canvas=False, **self._blur(), **units,
                )
            webgl.draw_quad(gl)
            if mode is Mode.BLURRED:
                self.frame.mipmaps(False)
            if overlay is not None:
                self._overlay_pass(*overlay, alpha_pass=False, halves=1.0)
            straight.bind()
            premultiplied.texture.bind(0)
            self.unpremultiply_program.use(still=0, to_canvas=False)
            webgl.draw_quad(gl)
            pixels = js.Uint8Array.new(width * height * 4)
            gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels)
            return pixels
        finally:
            premultiplied.delete()
            straight.delete()
            gl.bindFramebuffer(gl.FRAMEBUFFER, None)

    def draw_overlays(self, overlay: Overlay, art: Art, faces: list[Face]) -> None:
        """Into both halves of the packed frame: the art over the colour, its coverage into the alpha."""
        for alpha_pass in (False, True):
            self._overlay_pass(overlay, art, faces, alpha_pass, halves=2.0)

    def _overlay_pass(self, overlay: Overlay, art: Art, faces: list[Face], alpha_pass: bool, halves: float) -> None:
        gl = self.gl
        texture, box = art
        texture.bind(0)
        gl.enable(gl.BLEND)
        if alpha_pass:
            gl.blendEquation(gl.MAX)
        else:
            gl.blendEquation(gl.FUNC_ADD)
            gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA)
        for face in faces:
            right_eye, left_eye = face.eyes()
            anchor = mean_point([face.landmarks[i] for i in overlay.anchor])
            corners = placement(overlay, box, right_eye, left_eye, anchor)
            self.overlay_program.use(
                art=0,
                alpha_pass=alpha_pass,
                to_frame=quad_matrix(corners),
                frame=(float(self.camera_size[0]), float(self.camera_size[1])),
                half_index=1.0 if alpha_pass else 0.0,
                halves=halves,
            )
            webgl.draw_quad(gl)
        gl.blendEquation(gl.FUNC_ADD)
        gl.disable(gl.BLEND)
