"""The person mask the packer cuts us out with: the segmentation model's output, refined in a
shader (feathered edges, and smoothed over time where it is steady).

The wasm provider's models (the `_frame` builds, models/README.md) give the mask as four
half-size planes, one per pixel of each 2x2 block (`phases`): the model's last full-size step,
which only rearranges, is left to this shader, which reads each pixel from its plane."""

from __future__ import annotations

from typing import Any

from frontend_py import webgl

MEMORY = 0.6  # share of the previous mask kept per frame where the mask is steady

REFINE_FRAGMENT = """#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D mask;
uniform sampler2D previous;
uniform vec2 texel;
uniform float memory;
out vec4 refined;
#ifdef PHASES
// Pixel (x, y) of the mask (clamped to its edge, as a texture sampled there is), from plane
// 2 * (y % 2) + x % 2 of the planes stacked from the top of `mask`.
float mask_at(ivec2 size, ivec2 pixel) {
  ivec2 p = clamp(pixel, ivec2(0), size - 1);
  int plane = 2 * (p.y % 2) + p.x % 2;
  return texelFetch(mask, ivec2(p.x / 2, plane * (size.y / 2) + p.y / 2), 0).r;
}
#endif
void main() {
  float sum = 0.0;
#ifdef PHASES
  ivec2 size = textureSize(previous, 0);
  ivec2 here = ivec2(gl_FragCoord.xy);
#endif
  for (int dy = -1; dy <= 1; dy++) {
    for (int dx = -1; dx <= 1; dx++) {
      float weight = float((2 - abs(dx)) * (2 - abs(dy)));
#ifdef PHASES
      sum += weight * mask_at(size, here + ivec2(dx, dy));
#else
      sum += weight * texture(mask, uv + vec2(dx, dy) * texel).r;
#endif
    }
  }
  float feathered = sum / 16.0;
  float before = texture(previous, uv).r;
  // Steady regions keep part of the last frame (no flicker); where the mask really moves,
  // follow at once (no ghost trailing behind a waving hand).
  float keep = memory * (1.0 - smoothstep(0.15, 0.5, abs(feathered - before)));
  refined = vec4(vec3(mix(feathered, before, keep)), 1.0);
}
"""


class PersonMask:
    """Two targets of the segmentation's output size, the last refined mask and the one
    before, swapped at each new mask."""

    def __init__(self, gl: Any, size: tuple[int, int]) -> None:
        self.gl = gl
        self.size = size
        self.phases = False  # the model's output comes as four half-size planes (`use_phases`)
        self.program = webgl.Program(gl, REFINE_FRAGMENT)
        self.raw = webgl.Texture(gl)  # the segmentation's output as it came
        self.refined: list[webgl.Target] = []

    @property
    def texture(self) -> webgl.Texture:
        """The mask of the moment: `update` draws into the second target and swaps them, so the
        latest is first. (The second is the mask before it, empty at the first mask: a frame
        packed with it showed nobody, and the first masked frame made a person vanish from
        every stage until the next frame.)"""
        return self.refined[0].texture

    def resize(self, size: tuple[int, int]) -> None:
        """For another segmentation model's output size (the targets are made at the first call)."""
        if size == self.size and self.refined:
            return
        for target in self.refined:
            target.delete()
        self.size = size
        self.refined = [webgl.Target(self.gl, *size), webgl.Target(self.gl, *size)]

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
        self.program.use(mask=0, previous=1, texel=texel, memory=MEMORY, to_canvas=False)
        webgl.draw_quad(self.gl)
        self.refined.reverse()
