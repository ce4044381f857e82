"""What the models are given of a camera frame, by provider.

- wasm: the frame's RGBA bytes, copied out once (webgl.VideoTexture `keep_rgba`); every model
  takes them as they are and resizes them or samples its crop out of them in its own graph
  (the `_frame` models, models/recipe.py). Nothing waits for the GPU before inference.
- WebGPU: the frame resampled on the GPU into each model's input tensor, a band of rows of one
  TensorAtlas, read back as a Float32Array and handed to onnxruntime-web as it is.
"""

from __future__ import annotations

from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py import webgl
from frontend_py.facetracking import LANDMARK_SIZE, MAX_FACES, Face
from frontend_py.framesampling import Affine, sampling
from models import decode

ATLAS_WIDTH = 192  # texels: every model's input tensor fills whole rows of it (TensorAtlas)

# A model input as onnxruntime.Session.run takes it: data, shape, element type.
Tensor = tuple[Any, list[int], str]

TENSOR_FRAGMENT = f"""#version 300 es
precision highp float;
uniform sampler2D source;
uniform mat3 to_source;  // model input pixel -> source uv
uniform float scale;
uniform float offset;
uniform int model_width;  // pixels in a row of the model's input
uniform int band_top;     // the atlas row where this tensor starts
out vec4 value;
{webgl.RGB_AT_GLSL}
vec3 pixel(int index) {{
  vec2 at = vec2(float(index % model_width) + 0.5, float(index / model_width) + 0.5);
  vec2 uv = (to_source * vec3(at, 1.0)).xy;
  bool inside = all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0)));
  return (inside ? rgb_at(source, uv) : vec3(0.0)) * scale + offset;
}}

// Each texel of the band holds four consecutive floats of the NHWC RGB tensor, row after
// row, so that reading the band back gives the tensor itself. Four floats starting at
// float 4t span two pixels: 4t/3 and the next one.
void main() {{
  ivec2 texel = ivec2(gl_FragCoord.xy);
  int first = ((texel.y - band_top) * {ATLAS_WIDTH} + texel.x) * 4;
  int index = first / 3;
  vec3 a = pixel(index);
  vec3 b = pixel(index + 1);
  int phase = first - index * 3;
  value = phase == 0 ? vec4(a, b.r) : phase == 1 ? vec4(a.gb, b.rg) : vec4(a.b, b);
}}
"""


class TensorAtlas:
    """One RGBA32F target holding the models' input tensors in bands of rows: the segmentation
    model's, one per tracked face, and the detector's (the WebGPU provider's models). One
    readPixels brings back all that a frame needs; each read-back waits for the GPU, so one
    wait instead of one per model."""

    def __init__(self, gl: Any, segmentation: tuple[int, int]) -> None:
        self.gl = gl
        # By whether the camera frame comes as planes (webgl.VideoTexture): one of each kind.
        self.programs = {planar: webgl.Program(gl, TENSOR_FRAGMENT, defines=("PLANAR",) if planar else ()) for planar in (False, True)}
        self.segmentation = ModelInput(self, 0, *segmentation, 1.0, 0.0)
        top = self.segmentation.bottom
        self.faces = []
        for _ in range(MAX_FACES):
            self.faces.append(ModelInput(self, top, LANDMARK_SIZE, LANDMARK_SIZE, 1.0, 0.0))
            top = self.faces[-1].bottom
        self.detector = ModelInput(self, top, decode.INPUT_SIZE, decode.INPUT_SIZE, 2.0, -1.0)
        self.target = webgl.Target(gl, ATLAS_WIDTH, self.detector.bottom, floats=True)
        self.data = js.Float32Array.new(ATLAS_WIDTH * self.detector.bottom * 4)

    def read(self, top: int, bottom: int) -> None:
        """Bring rows top..bottom back into `data` (the tensors of those bands)."""
        self.target.bind()
        gl = self.gl
        gl.readPixels(0, top, ATLAS_WIDTH, bottom - top, gl.RGBA, gl.FLOAT, self.data, top * ATLAS_WIDTH * 4)


class ModelInput:
    """One model's input tensor: a band of the atlas' rows."""

    def __init__(self, atlas: TensorAtlas, top: int, width: int, height: int, scale: float, offset: float) -> None:
        self.atlas, self.top = atlas, top
        self.width, self.height, self.scale, self.offset = width, height, scale, offset
        rows, rest = divmod(width * height * 3, ATLAS_WIDTH * 4)
        assert rest == 0, "a tensor fills whole atlas rows"
        self.bottom = top + rows
        self.shape = [1, height, width, 3]

    def tensor(self) -> Tensor:
        """The band as a model input (once read back)."""
        data = self.atlas.data.subarray(self.top * ATLAS_WIDTH * 4, self.bottom * ATLAS_WIDTH * 4)
        return data, self.shape, "float32"

    def fill(self, source: webgl.VideoTexture, to_source: list[float]) -> None:
        gl = self.atlas.gl
        programs = self.atlas.programs
        self.atlas.target.bind()
        gl.viewport(0, self.top, ATLAS_WIDTH, self.bottom - self.top)
        programs[source.planar].use(
            source=0, to_source=to_source, scale=self.scale, offset=self.offset,
            model_width=self.width, band_top=self.top, **source.bind(0, 1, 2),
        )
        webgl.draw_quad(gl)

    def read(self) -> None:
        self.atlas.read(self.top, self.bottom)


class ModelInputs:
    """The models' inputs taken from `frame`, the camera frame of the moment: its bytes, until
    `use_atlas` (the WebGPU provider) moves them into a TensorAtlas."""

    def __init__(self, frame: webgl.VideoTexture) -> None:
        self.frame = frame
        self.atlas: TensorAtlas | None = None

    def use_atlas(self, gl: Any, segmentation: tuple[int, int]) -> None:
        self.atlas = TensorAtlas(gl, segmentation)

    @property
    def from_bytes(self) -> bool:
        """The models take the frame's bytes (so its upload keeps them)."""
        return self.atlas is None

    def face_bands(self) -> list[ModelInput | None]:
        """The atlas band of each trackable face; None each without an atlas."""
        return self.atlas.faces if self.atlas else [None] * MAX_FACES

    def prepare(self, segment: bool, crops: list[tuple[Face, ModelInput | None]], width: int, height: int) -> None:
        """With an atlas: resample the frame into the segmentation's tensor (if `segment`) and
        the tracked faces' tensors on the GPU, and read them back."""
        atlas = self.atlas
        if atlas is None:
            return
        if segment:
            to_source = [1 / atlas.segmentation.width, 0, 0, 0, 1 / atlas.segmentation.height, 0, 0, 0, 1]
            atlas.segmentation.fill(self.frame, to_source)
        for face, band in crops:
            band.fill(self.frame, face.crop.uv_matrix(width, height))
        # One read-back for every tensor, while the GPU queue holds only this frame's upload: a
        # read queued behind the mask refinement would wait for that too.
        top = 0 if segment else atlas.segmentation.bottom
        bottom = crops[-1][1].bottom if crops else atlas.segmentation.bottom
        if bottom > top:
            atlas.read(top, bottom)

    def segmentation(self) -> Tensor:
        if self.atlas is not None:
            return self.atlas.segmentation.tensor()
        width, height = self.frame.rgba_size
        return self.frame.rgba, [1, height, width, 4], "uint8"

    def detector(self, letterbox: Affine, width: int, height: int) -> list[Tensor]:
        """The detector's inputs: the frame letterboxed into its square input."""
        if self.atlas is None:
            return self.sampled(letterbox, decode.INPUT_SIZE)
        band = self.atlas.detector
        band.fill(self.frame, letterbox.uv_matrix(width, height))
        band.read()
        return [band.tensor()]

    def landmarks(self, face: Face, band: ModelInput | None) -> list[Tensor]:
        """The landmark model's inputs: the tensor in the face's band (filled and read back),
        or (None) its crop sampled out of the frame's bytes."""
        if band is None:
            return self.sampled(face.crop.affine(), LANDMARK_SIZE)
        return [band.tensor()]

    def sampled(self, to_frame: Affine, size: int) -> list[Tensor]:
        """The inputs of a model that samples its size x size input out of the frame. It is
        given only the rows of the frame its region spans (onnxruntime copies what it is given)."""
        width, height = self.frame.rgba_size
        feed = sampling(to_frame, size, size, width, height)
        (top, left, first), (bottom, right, last) = feed.region_start, feed.region_end
        rows = self.frame.rgba.subarray(top * width * 4, bottom * width * 4)
        return [
            (rows, [1, bottom - top, width, 4], "uint8"),
            (js.Int32Array.new(to_js([0, left, first])), [3], "int32"),
            (js.Int32Array.new(to_js([bottom - top, right, last])), [3], "int32"),
            (js.Float32Array.new(to_js(feed.to_region)), [1, 2, 3], "float32"),
        ]
