"""The sender pipeline: camera -> segmentation and face tracking -> packed colour+alpha track.

Per camera frame (sourcevideo.py): the models get their input, the person mask is refined in
a shader (temporal smoothing, feathered edges), and the packed frame is drawn (packing.py) in
the privacy mode of the moment (privacy.py): only the person, or blurred, or the camera as it
is. The GPU work happens on one WebGL2 canvas. How the models get their input depends on the
provider:

- wasm: the frame is copied out once as RGBA bytes and every model takes it as it is; the
  models resize it or sample their crop out of it in their own graph (the `_frame` models,
  models/recipe.py). Nothing waits for the GPU before inference.
- WebGPU: the frame is resampled on the GPU into each model's input tensor (a band of the
  TensorAtlas, read back as a Float32Array and handed to onnxruntime-web as it is).

Frames never cross into Python; only a face's few dozen numbers do. Every model is optional:
without one, the call goes on and the person is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import js
from pyodide.ffi import to_js

from frontend_py import media, webgl
from frontend_py.dom import h, js_object, spawn
from frontend_py.facetracking import LANDMARK_SIZE, MAX_FACES, Face, Tracker
from frontend_py.framesampling import Affine, sampling
from frontend_py.onnxruntime import Provider, Runtimes, Session, choose_provider, model_bytes
from frontend_py.overlays import BY_NAME, Overlay
from frontend_py.packing import Packer
from frontend_py.privacy import CameraPrivacy, Notice
from frontend_py.sourcevideo import CameraStalled, SourceVideo
from models import decode

T = TypeVar("T")

# (model, input width, height), paired with the camera's shape as MediaPipe does. The
# landscape model costs half as much, but on a squeezed 4:3 picture it takes things near the
# person for foreground (the flag on the wall of our test photo); the square one does not.
SEGMENTATION_WIDE = ("selfie_segmentation_landscape", 256, 144)
SEGMENTATION_SQUARE = ("selfie_segmentation", 256, 256)
ATLAS_WIDTH = 192  # texels: every model's input tensor fills whole rows of it (TensorAtlas)
DETECTOR = "face_detection_full_range"
LANDMARKS = "face_landmark"
# What the diagnostics report: the stages, the whole frame, and the wait until it is sent.
STAGES = ("preprocess", "segmentation", "face", "overlays", "pack", "total", "send")
SAMPLES = 300
MASK_MEMORY = 0.6  # share of the previous mask kept per frame where the mask is steady
FRAME_SLACK_MS = 8.0  # a camera frame early by up to this much still counts as on time
CAMERA_START_S = 20.0  # from Join to the camera's first frame, before the person is told

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

REFINE_FRAGMENT = """#version 300 es
precision highp float;
in vec2 uv;
uniform sampler2D mask;
uniform sampler2D previous;
uniform vec2 texel;
uniform float memory;
out vec4 refined;
void main() {
  float sum = 0.0;
  for (int dy = -1; dy <= 1; dy++) {
    for (int dx = -1; dx <= 1; dx++) {
      float weight = float((2 - abs(dx)) * (2 - abs(dy)));
      sum += weight * texture(mask, uv + vec2(dx, dy) * texel).r;
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

def segmentation_model(width: int, height: int) -> tuple[str, int, int]:
    return SEGMENTATION_WIDE if width >= 1.5 * height else SEGMENTATION_SQUARE


def model_file(model: str, provider: str) -> str:
    """The build of a model a provider runs (models/README.md). wasm: the one that takes camera
    frames, since its input is in the page's memory anyway, and waiting for the GPU to resample
    it and read it back costs ~5 ms on a software GPU, behind whatever else the page draws.
    WebGPU: the one taking a float tensor, and for landmarks the one without PRelu."""
    if provider == "wasm":
        return model + "_frame"
    return model + "_webgpu" if model == LANDMARKS else model


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

    def tensor(self) -> tuple[Any, list[int], str]:
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


class Stats:
    """Per-stage milliseconds of the last frames, for the diagnostics panel and bench/pipeline.py."""

    def __init__(self) -> None:
        self.frames: deque[dict[str, float]] = deque(maxlen=SAMPLES)
        self.count = 0

    def add(self, frame: dict[str, float]) -> None:
        self.frames.append(frame)
        self.count += 1

    def percentile(self, stage: str, share: float) -> float:
        """Over the frames where the stage ran."""
        values = sorted(frame[stage] for frame in self.frames if stage in frame)
        return values[min(len(values) - 1, int(share * len(values)))] if values else 0.0

    def fps(self) -> float:
        recent = [frame["at"] for frame in self.frames]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) * 1000.0 / max(1.0, recent[-1] - recent[0])


class Pipeline:
    """Owns the camera's source video, the packed frames and the captured canvas they are sent from."""

    def __init__(self, camera: Any, on_notice: Callable[[str], None], on_privacy: Callable[[Notice | None], None]) -> None:
        self.camera = camera
        self.on_notice = on_notice
        self.on_privacy = on_privacy  # the person's own picture: getting ready, blurred, asked
        self.source = SourceVideo(camera)
        # The GPU work happens in a context of its own canvas, never shown nor captured; the
        # packed frames are read back into `output`, a canvas in memory that is captured.
        self.gl = webgl.context(h("canvas"), alpha=False)
        self.output = h("canvas")
        self.output_context = self.output.getContext("2d", js_object({"alpha": False, "willReadFrequently": True}))
        self.quad = webgl.unit_quad(self.gl)
        self.frame_texture = webgl.VideoTexture(self.gl, planar=webgl.software_renderer(self.gl))
        self.refine_program = webgl.Program(self.gl, REFINE_FRAGMENT)
        self.packer = Packer(self.gl, self.frame_texture)
        self.width = self.height = 0
        self.provider: Provider | None = None
        self.runtimes: asyncio.Future[Runtimes | None] | None = None
        self.segmenter: Session | None = None
        self.detector: Session | None = None
        self.landmarker: Session | None = None
        self.models_failed: list[str] = []
        self.privacy = CameraPrivacy(started_at=js.performance.now() / 1000)
        self.notice: Notice | None = None
        self.overlay: Overlay | None = None
        self.art: dict[str, tuple[webgl.Texture, tuple[float, float, float, float]]] = {}
        self.tracker = Tracker()
        self.stats = Stats()
        self.running = False
        self.output_image: Any = None  # an ImageData over the packer's read-back bytes, put into `output`
        self.on_packed: Callable[[Any], None] = lambda pixels: None  # each packed frame's RGBA bytes
        # After another camera changed the packed frames' size (use_camera): their new width and
        # height, before the first such frame reaches on_packed.
        self.on_resized: Callable[[int, int], None] = lambda width, height: None
        self._frame_lock = asyncio.Lock()  # a frame being made, or the camera being switched
        self._incoming: SourceVideo | None = None  # the camera being switched to, until it gives a frame
        self.segmentation = SEGMENTATION_SQUARE[0]
        self.mask_size = SEGMENTATION_SQUARE[1:]
        # The WebGPU provider's model inputs. None with wasm: its models take the frame's bytes.
        self.atlas: TensorAtlas | None = None
        self.mask_texture = webgl.Texture(self.gl)
        self.refined: list[webgl.Target] = []
        self.max_fps = 30.0  # what the peers are sent at most (bandwidth.video_encoding)
        self.model_options: tuple[str, int] | None = None  # (provider, threads) asked for; set by start()
        self.segmentation_requested = False
        self.faces_requested = False
        self.faces_loading = False  # an overlay is picked and the face models are on their way
        self.on_faces_loading: Callable[[bool], None] = lambda loading: None

    @property
    def remove_background(self) -> bool:
        return self.privacy.remove_background

    @remove_background.setter
    def remove_background(self, on: bool) -> None:
        self.privacy.set_removal(on)
        self._need_models()

    @property
    def packed(self) -> webgl.PixelReader:
        return self.packer.reader

    def show_unmasked(self, agreed: bool) -> None:
        """The person's answer to privacy.Notice.ASK; it holds until they leave the booth."""
        self.privacy.answer(agreed)
        self._update_notice()

    async def start(self, provider: str = "", threads: int = 0) -> Any:
        """Start drawing packed frames at once; the models load behind. Returns the stream
        to send: the packed video track plus the camera's own audio. Raises
        sourcevideo.CameraStalled when the camera gives no frame in CAMERA_START_S."""
        await self.source.start(CAMERA_START_S)
        self._fit_camera()
        self.privacy.started_at = js.performance.now() / 1000
        await self._send_first_frame()
        self._update_notice()
        stream = self.output.captureStream()
        for track in self.camera.getAudioTracks():
            stream.addTrack(track)
        self.running = True
        spawn(self._run())
        self.model_options = (provider, threads)
        self._need_models()
        return stream

    async def use_camera(self, camera: Any) -> None:
        """Take frames from another camera from now on: `camera` is a MediaStream with its video
        track (media.open_video). The booth goes on: models, overlay and privacy answer stay, and
        the sent video track stays the same track (peers renegotiate nothing). Frames keep coming
        from the old camera until the new one has given its first. Then the new video track takes
        the old one's place in `self.camera` (the stream the pipeline was made with, which so
        always holds the camera in use) and the old one is stopped; if the picture's size
        changed, what is sized by it is made anew and `on_resized` is called.

        Raises sourcevideo.CameraStalled when the new camera gives no frame in CAMERA_START_S
        (or the pipeline stops meanwhile): nothing changed, and the new stream is the caller's
        to stop."""
        incoming = self._incoming = SourceVideo(camera)
        try:
            await incoming.start(CAMERA_START_S)
        finally:
            self._incoming = None
        if not self.running:
            incoming.close()
            raise CameraStalled()
        async with self._frame_lock:  # no frame is made while the camera changes
            self.source.close()  # the frame loop, if it waits for this one's next frame, goes on to the new one
            self.source = incoming
            # What was learnt of the old picture says nothing of this one: faces are looked for
            # afresh, and the first frame goes out blurred until this camera's own mask exists.
            self.tracker = Tracker()
            self.privacy.set_removal(self.privacy.remove_background)
            while self.packed.busy:  # the old camera's last frame is still on its way out
                await asyncio.sleep(webgl.PixelReader.POLL_S)
            if self._fit_camera():
                self.on_resized(self.packed.width, self.packed.height)
            for track in camera.getVideoTracks():
                for old in media.swap_track(self.camera, track):
                    old.stop()
            await self._send_first_frame()

    def _fit_camera(self) -> bool:
        """Size what depends on the camera's picture: the packed frames and the captured canvas
        they are put into, and, until segmentation is asked for, the segmentation model (by the
        picture's shape) and its mask targets. Once asked for, the segmentation model stays
        (it takes a picture of any size). False when the picture kept its size."""
        width, height = self.source.size
        if (width, height) == (self.width, self.height):
            return False
        self.width, self.height = width, height
        if not self.segmentation_requested:
            self.segmentation, mask_width, mask_height = segmentation_model(width, height)
            if (mask_width, mask_height) != self.mask_size or not self.refined:
                for target in self.refined:
                    target.delete()
                self.mask_size = (mask_width, mask_height)
                self.refined = [webgl.Target(self.gl, *self.mask_size), webgl.Target(self.gl, *self.mask_size)]
        old = self.packer.reader
        self.packer.resize(width, height)
        if old is not None:
            old.target.delete()
            self.gl.deleteBuffer(old.buffer)
        packed = self.packed
        self.output.width, self.output.height = packed.width, packed.height
        data = packed.data
        self.output_image = js.ImageData.new(js.Uint8ClampedArray.new(data.buffer, data.byteOffset, data.length), packed.width, packed.height)
        return True

    async def _send_first_frame(self) -> None:
        """The first frame a peer decodes of a camera is that camera (blurred until a mask
        exists), not a blank canvas or the camera of a moment ago."""
        while not await self.frame_texture.upload(self.source.element):
            if self.source.closed:
                raise CameraStalled()
            await self.source.next_frame()
        self.packer.pack(self.privacy.mode(), self.refined[1].texture)
        self.packed.read()
        await self._send_packed({})

    def stop(self) -> None:
        self.running = False
        self.source.close()
        if self.runtimes is not None and self.runtimes.done() and self.runtimes.result() is not None:
            binary = self.runtimes.result().binary
            if binary is not None:
                binary.release()
        if self._incoming is not None:
            self._incoming.close()

    def set_overlay(self, name: str) -> None:
        self.overlay = BY_NAME.get(name)
        if self.overlay is not None and name not in self.art:
            spawn(self._load_art(self.overlay))
        self._need_models()

    def _need_models(self) -> None:
        """Load each model once something needs it: segmentation for background removal, the
        face models (4.5 MB, most of a first visit's models) once an overlay is picked. With
        neither, a booth runs without them (their start-up costs seconds of CPU)."""
        if not self.running or self.model_options is None:
            return
        if self.remove_background and not self.segmentation_requested:
            self.segmentation_requested = True
            spawn(self._load_segmentation())
        if self.overlay is not None and not self.faces_requested:
            self.faces_requested = True
            spawn(self._load_faces())

    async def _runtimes(self) -> Runtimes | None:
        """The provider, chosen once for all the models; None when none can be had here."""
        if self.runtimes is None:
            self.runtimes = asyncio.ensure_future(self._choose_runtimes(*self.model_options))
        return await self.runtimes

    async def _choose_runtimes(self, requested: str, threads: int) -> Runtimes | None:
        try:
            self.provider = await choose_provider(requested, threads)
        except Exception as exc:  # noqa: BLE001 (no provider: the privacy notice takes over)
            js.console.error(f"onnxruntime-web: {exc}")
            self.models_failed = [self.segmentation, DETECTOR, LANDMARKS]
            self.privacy.model_unavailable()
            self._update_notice()
            self.on_notice("ai.no_faces")
            return None
        if self.provider.name != "wasm":
            self.atlas = TensorAtlas(self.gl, self.mask_size)
        return Runtimes(self.provider)

    async def _create_session(self, runtimes: Runtimes, model: str) -> Session:
        """On the page's instance. The WebGPU provider refuses to create a session while another
        one runs: there, no frame is made meanwhile (the model downloads before)."""
        data = await model_bytes(model_file(model, runtimes.provider.name))
        runtime = await runtimes.page()
        idle = self._frame_lock if runtimes.provider.name == "webgpu" else contextlib.nullcontext()
        async with idle:
            return await runtime.session(data)

    async def _load_segmentation(self) -> None:
        runtimes = await self._runtimes()
        if runtimes is None:
            return
        try:
            if runtimes.provider.split()[1]:
                self.segmenter = await self._session_in_worker(runtimes, model_file(self.segmentation, "wasm"))
            if self.segmenter is None:
                self.segmenter = await self._create_session(runtimes, self.segmentation)
        except Exception as exc:  # noqa: BLE001 (the privacy notice takes over)
            js.console.error(f"model {self.segmentation}: {exc}")
            self.models_failed.append(self.segmentation)
            self.privacy.model_unavailable()
            self._update_notice()

    async def _load_faces(self) -> None:
        runtimes = await self._runtimes()
        if runtimes is None:
            return
        self._faces_loading(True)
        try:
            sessions = {}
            for name in (DETECTOR, LANDMARKS):
                try:
                    sessions[name] = await self._create_session(runtimes, name)
                except Exception as exc:  # noqa: BLE001 (the call goes on without overlays)
                    js.console.error(f"model {model_file(name, runtimes.provider.name)}: {exc}")
                    self.models_failed.append(name)
            if len(sessions) < 2:
                self.on_notice("ai.no_faces")
            else:
                self.detector, self.landmarker = sessions[DETECTOR], sessions[LANDMARKS]
        finally:
            self._faces_loading(False)

    def _faces_loading(self, loading: bool) -> None:
        self.faces_loading = loading
        self.on_faces_loading(loading)

    async def _session_in_worker(self, runtimes: Runtimes, file: str) -> Session | None:
        """None where workers or the model fail: the model is then tried on the page's instance."""
        try:
            return await (await runtimes.worker()).session(await model_bytes(file))
        except Exception as exc:  # noqa: BLE001 (the page's instance is the fallback)
            js.console.error(f"onnxruntime-web in a worker, {file}: {exc}")
            return None

    async def _load_art(self, overlay: Overlay) -> None:
        self.art[overlay.name] = await webgl.overlay_art(self.gl, overlay.name)

    async def _run(self) -> None:
        last = -FRAME_SLACK_MS - 1000.0
        while self.running:
            await self.source.next_frame()
            if not self.running:
                break
            # Frames the encoders would drop anyway are not made (a crowded booth sends 15 fps).
            now = js.performance.now()
            if now - last < 1000.0 / self.max_fps - FRAME_SLACK_MS:
                continue
            last = now
            try:
                async with self._frame_lock:
                    if self.running:
                        await self._process()
            except Exception as exc:  # noqa: BLE001 (one bad frame must not stop the camera)
                js.console.error(f"pipeline frame: {exc}")
                await asyncio.sleep(0.1)
            self._update_notice()

    def _update_notice(self) -> None:
        notice = self.privacy.notice(js.performance.now() / 1000)
        if notice != self.notice:
            self.notice = notice
            self.on_privacy(notice)

    async def _process(self) -> None:
        clock = js.performance.now
        timings: dict[str, float] = {}
        begin = clock()
        atlas = self.atlas
        segment = self.remove_background and self.segmenter is not None
        track = self.overlay is not None and self.detector is not None and self.landmarker is not None
        if not await self.frame_texture.upload(self.source.element, keep_rgba=atlas is None and (segment or track)):
            return
        crops = list(zip(self.tracker.faces, atlas.faces if atlas else [None] * MAX_FACES)) if track else []
        if atlas is not None:
            self._fill_atlas(segment, crops)
        timings["preprocess"] = clock() - begin
        segmented: asyncio.Future[list[Any]] | None = None
        if segment:
            inputs = self._frame_bytes() if atlas is None else atlas.segmentation.tensor()
            segmented = asyncio.ensure_future(self._timed(self.segmenter.run(inputs), "segmentation", timings))
            if self.segmenter.in_worker:
                await asyncio.sleep(0)  # posted to the worker: the face models run here meanwhile
            else:
                await segmented  # one instance runs one model at a time
        faces: list[Face] = []
        try:
            if track:
                faces = await self._timed(self._track_faces(crops), "face", timings)
        finally:
            mask = await self._mask(segmented) if segmented is not None else None
        started = clock()
        if mask is not None:
            self.mask_texture.upload_floats(mask, *self.mask_size)
            self._refine()
            self.privacy.mask_ready()
        self.packer.pack(self.privacy.mode(), self.refined[1].texture)
        timings["pack"] = clock() - started
        if faces and self.overlay is not None and self.overlay.name in self.art:
            started = clock()
            self.packer.draw_overlays(self.overlay, self.art[self.overlay.name], faces)
            timings["overlays"] = clock() - started
        if not self.packed.busy:  # else the GPU is behind: this frame is not sent
            self.packed.read()
            spawn(self._send_packed(timings))
        timings["total"] = clock() - begin
        timings["at"] = begin
        self.stats.add(timings)

    async def _mask(self, segmented: asyncio.Future[list[Any]]) -> Any:
        """The segmentation's output; None when it failed, and this frame goes out without a mask."""
        try:
            return (await segmented)[0]
        except Exception as exc:  # noqa: BLE001 (the frame goes out masked by the privacy fallback)
            js.console.error(f"segmentation: {exc}")
            self.privacy.frame_failed()
            return None

    async def _timed(self, work: Awaitable[T], stage: str, timings: dict[str, float]) -> T:
        started = js.performance.now()
        result = await work
        timings[stage] = js.performance.now() - started
        return result

    def _fill_atlas(self, segment: bool, crops: list[tuple[Face, ModelInput | None]]) -> None:
        """Resample the frame into the models' tensors on the GPU and read them back."""
        atlas = self.atlas
        if segment:
            to_source = [1 / atlas.segmentation.width, 0, 0, 0, 1 / atlas.segmentation.height, 0, 0, 0, 1]
            atlas.segmentation.fill(self.frame_texture, to_source)
        for face, model_input in crops:
            model_input.fill(self.frame_texture, face.crop.uv_matrix(self.width, self.height))
        # One read-back for every tensor, while the GPU queue holds only this frame's upload: a
        # read queued behind the mask refinement would wait for that too.
        top = 0 if segment else atlas.segmentation.bottom
        bottom = crops[-1][1].bottom if crops else atlas.segmentation.bottom
        if bottom > top:
            atlas.read(top, bottom)

    def _frame_bytes(self) -> tuple[Any, list[int], str]:
        picture = self.frame_texture.picture
        return self.frame_texture.rgba, [1, picture.height, picture.width, 4], "uint8"

    def _frame_sampled(self, to_frame: Affine, size: int) -> list[tuple[Any, list[int], str]]:
        """The inputs of a model that samples its size x size input out of the frame. It is
        given only the rows of the frame its region spans (onnxruntime copies what it is given)."""
        width, height = self.frame_texture.picture.width, self.frame_texture.picture.height
        feed = sampling(to_frame, size, size, width, height)
        (top, left, first), (bottom, right, last) = feed.region_start, feed.region_end
        rows = self.frame_texture.rgba.subarray(top * width * 4, bottom * width * 4)
        return [
            (rows, [1, bottom - top, width, 4], "uint8"),
            (js.Int32Array.new(to_js([0, left, first])), [3], "int32"),
            (js.Int32Array.new(to_js([bottom - top, right, last])), [3], "int32"),
            (js.Float32Array.new(to_js(feed.to_region)), [1, 2, 3], "float32"),
        ]

    def _refine(self) -> None:
        previous, target = self.refined
        target.bind()
        self.mask_texture.bind(0)
        previous.texture.bind(1)
        texel = (1 / target.width, 1 / target.height)
        self.refine_program.use(mask=0, previous=1, texel=texel, memory=MASK_MEMORY, to_canvas=False)
        webgl.draw_quad(self.gl)
        self.refined.reverse()

    async def _track_faces(self, crops: list[tuple[Face, ModelInput | None]]) -> list[Face]:
        tracker = self.tracker
        tracker.next_frame()
        for face, model_input in crops:
            await self._landmarks(face, model_input)
        if tracker.needs_detection():
            side = max(self.width, self.height)
            ox, oy = (side - self.width) / 2, (side - self.height) / 2
            k = side / decode.INPUT_SIZE
            letterbox = Affine(k, 0, -ox, 0, k, -oy)
            if self.atlas is None:
                outputs = await self.detector.run(*self._frame_sampled(letterbox, decode.INPUT_SIZE))
            else:
                detector_input = self.atlas.detector
                detector_input.fill(self.frame_texture, letterbox.uv_matrix(self.width, self.height))
                detector_input.read()
                outputs = await self.detector.run(detector_input.tensor())
            regressors, scores = sorted(outputs, key=lambda array: -array.length)
            found = tracker.detected(decode.detect(regressors.to_py(), scores.to_py(), self.width, self.height))
            # Detection runs only below MAX_FACES: a band is free.
            model_input = self.atlas.faces[len(crops)] if self.atlas else None
            for face in found:
                if model_input is not None:
                    model_input.fill(self.frame_texture, face.crop.uv_matrix(self.width, self.height))
                    model_input.read()
                await self._landmarks(face, model_input)
        return [face for face in tracker.faces if face.landmarks]

    async def _landmarks(self, face: Face, model_input: ModelInput | None) -> None:
        """On the tensor in the atlas band, or (None) sampled out of the frame's bytes."""
        if model_input is None:
            outputs = await self.landmarker.run(*self._frame_sampled(face.crop.affine(), LANDMARK_SIZE))
        else:
            outputs = await self.landmarker.run(model_input.tensor())
        points, score = sorted(outputs, key=lambda array: -array.length)
        self.tracker.landmarks(face, points.to_py(), float(score[0]))

    def still(self) -> tuple[Any, int, int]:
        """The latest frame as our cut-out at the camera's full size (what a photo shows of
        us): straight-alpha RGBA bytes, top row first, with its width and height."""
        faces = [face for face in self.tracker.faces if face.landmarks]
        overlay = None
        if faces and self.overlay is not None and self.overlay.name in self.art:
            overlay = (self.overlay, self.art[self.overlay.name], faces)
        return self.packer.still(self.privacy.mode(), self.refined[1].texture, overlay), self.width, self.height

    async def _send_packed(self, timings: dict[str, float]) -> None:
        """Once the GPU has it: the packed frame into the captured canvas, and to our stage.
        `send` in the frame's timings is how long that took after the frame's `total`."""
        started = js.performance.now()
        pixels = await self.packed.pixels()
        self.output_context.putImageData(self.output_image, 0, 0)
        timings["send"] = js.performance.now() - started
        self.on_packed(pixels)

    def diagnostics(self) -> dict[str, Any]:
        """What the diagnostics panel shows; also read by bench/pipeline.py."""
        return {
            "provider": self.provider.describe() if self.provider else "",
            "segmentation_in_worker": self.segmenter is not None and self.segmenter.in_worker,
            "provider_name": self.provider.name if self.provider else "",
            "threads": self.provider.threads if self.provider else 0,
            "models_failed": self.models_failed,
            "privacy": self.privacy.mode().value,
            "fps": round(self.stats.fps(), 1),
            "frames": self.stats.count,
            "faces": len(self.tracker.faces),
            "stages": {
                stage: [round(self.stats.percentile(stage, 0.5), 2), round(self.stats.percentile(stage, 0.95), 2)]
                for stage in STAGES
            },
            "samples": list(self.stats.frames),
        }

    def diagnostics_json(self) -> str:
        return json.dumps(self.diagnostics())
