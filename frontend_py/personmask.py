"""The person mask the packer cuts us out with: the segmentation model's output, refined in a
shader (feathered edges, and smoothed over time where it is steady), and beside it the same mask
dilated, which says where the camera's colour is sent (packing.py).

The wasm provider's models (the `_frame` builds, models/README.md) give the mask as four
half-size planes, one per pixel of each 2x2 block (`phases`): the model's last full-size step,
which only rearranges, is left to this shader, which reads each pixel from its plane."""

from __future__ import annotations

from typing import Any

from frontend_py import webgl

MEMORY = 0.6  # share of the previous mask kept per frame where the mask is steady
DILATION_TEXELS = 1  # of the mask: 2-3 camera pixels at 640x480 with a 256-texel mask

REFINE_FRAGMENT = """#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D mask;
uniform sampler2D previous;
uniform vec2 texel;
uniform float memory;
out vec4 refined;
#ifdef PHASES
uniform vec2 plane_size;  // one plane's width and height, in texels
// Plane 2 * (y % 2) + x % 2 of the four planes stacked from the top of `mask` holds pixel
// (x, y) at (x / 2, y / 2); `at` is in that plane's texels, its rows clamped to the plane's
// own (a linear sample never reaches into the next plane).
float plane_at(float plane, vec2 at) {
  at.y = clamp(at.y, 0.5, plane_size.y - 0.5) + plane * plane_size.y;
  return texture(mask, at / vec2(plane_size.x, 4.0 * plane_size.y)).r;
}
#endif
void main() {
#ifdef PHASES
  // The 3x3 tent around a pixel in four linear samples: its two horizontal neighbours are
  // side by side in one plane, so are its two vertical ones in another, and its four diagonal
  // ones are a 2x2 block of a third; a sample midway gives each group's mean. (On a software
  // GPU a fetch per neighbour, with integer arithmetic to find its plane, cost 2.5x as much.)
  vec2 halved = floor(gl_FragCoord.xy * 0.5);
  vec2 parity = floor(gl_FragCoord.xy) - 2.0 * halved;
  vec2 centre = halved + 0.5;
  vec2 between = halved + parity;
  float row = 2.0 * parity.y, other_row = 2.0 - row;
  float sum = 4.0 * (plane_at(row + parity.x, centre)
                   + plane_at(row + 1.0 - parity.x, vec2(between.x, centre.y))
                   + plane_at(other_row + parity.x, vec2(centre.x, between.y))
                   + plane_at(other_row + 1.0 - parity.x, between));
#else
  float sum = 0.0;
  for (int dy = -1; dy <= 1; dy++) {
    for (int dx = -1; dx <= 1; dx++) {
      float weight = float((2 - abs(dx)) * (2 - abs(dy)));
      sum += weight * texture(mask, uv + vec2(dx, dy) * texel).r;
    }
  }
#endif
  float feathered = sum / 16.0;
  float before = texture(previous, uv).r;
  // Steady regions keep part of the last frame (no flicker); where the mask really moves,
  // follow at once (no ghost trailing behind a waving hand).
  float keep = memory * (1.0 - smoothstep(0.15, 0.5, abs(feathered - before)));
  refined = vec4(vec3(mix(feathered, before, keep)), 1.0);
}
"""

# Once per mask at the mask's size, not per camera pixel in the packer's shaders: on a software
# GPU five samples per pixel of a 640x480 frame cost 2.5x its whole colour pass.
DILATE_FRAGMENT = f"""#version 300 es
precision highp float;
uniform sampler2D refined;
out vec4 matte;
float at(ivec2 pixel, ivec2 last) {{
  return texelFetch(refined, clamp(pixel, ivec2(0), last), 0).r;
}}
void main() {{
  ivec2 here = ivec2(gl_FragCoord.xy), last = textureSize(refined, 0) - 1;
  ivec2 d = ivec2({DILATION_TEXELS}), e = ivec2({DILATION_TEXELS}, -{DILATION_TEXELS});
  float mask = texelFetch(refined, here, 0).r;
  float near = max(max(mask, max(at(here + d, last), at(here - d, last))), max(at(here + e, last), at(here - e, last)));
  matte = vec4(mask, near, 0.0, 1.0);
}}
"""


class PersonMask:
    """Targets of the segmentation's output size: the last refined mask and the one before,
    swapped at each new mask, and the matte the packer reads (`texture`)."""

    def __init__(self, gl: Any, size: tuple[int, int]) -> None:
        self.gl = gl
        self.size = size
        self.phases = False  # the model's output comes as four half-size planes (`use_phases`)
        self.program = webgl.Program(gl, REFINE_FRAGMENT)
        self.dilate_program = webgl.Program(gl, DILATE_FRAGMENT)
        self.raw = webgl.Texture(gl)  # the segmentation's output as it came
        self.refined: list[webgl.Target] = []
        self.matte: webgl.Target | None = None

    @property
    def texture(self) -> webgl.Texture:
        """The matte of the moment: red, the refined mask; green, that mask dilated by
        DILATION_TEXELS. Empty until the first mask (a frame packed with it shows nobody)."""
        return self.matte.texture

    def resize(self, size: tuple[int, int]) -> None:
        """For another segmentation model's output size (the targets are made at the first call)."""
        if size == self.size and self.refined:
            return
        if self.matte is not None:  # made with the refined pair, at the first call
            for target in (*self.refined, self.matte):
                target.delete()
        self.size = size
        self.refined = [webgl.Target(self.gl, *size), webgl.Target(self.gl, *size)]
        self.matte = webgl.Target(self.gl, *size)

    def use_phases(self, phases: bool) -> None:
        """Whether the model's outputs come as four half-size planes (models/README.md), before the first."""
        if phases != self.phases:
            self.phases = phases
            self.program.delete()
            self.program = webgl.Program(self.gl, REFINE_FRAGMENT, defines=("PHASES",) if phases else ())

    def update(self, mask: Any) -> None:
        """Refine the segmentation's output `mask` (floats, one per pixel, or four half-size
        planes of them) into the mask of the moment."""
        width, height = self.size
        if self.phases:
            self.raw.upload_floats(mask, width // 2, 2 * height)  # the planes one above the other
        else:
            self.raw.upload_floats(mask, width, height)
        previous, target = self.refined
        target.bind()
        self.raw.bind(0)
        previous.texture.bind(1)
        texel = (1 / target.width, 1 / target.height)
        planes = {"plane_size": (width / 2, height / 2)} if self.phases else {}
        self.program.use(mask=0, previous=1, texel=texel, memory=MEMORY, to_canvas=False, **planes)
        webgl.draw_quad(self.gl)
        self.matte.bind()
        target.texture.bind(0)
        self.dilate_program.use(refined=0, to_canvas=False)
        webgl.draw_quad(self.gl)
        self.refined.reverse()
