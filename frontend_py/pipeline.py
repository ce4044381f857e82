"""The sender pipeline: camera -> segmentation and face tracking -> packed colour+alpha track.

Per camera frame (camerafeed.py): the models get their input (modelinputs.py: the frame's
bytes with wasm, tensors resampled on the GPU with WebGPU), the person mask is refined
(personmask.py), faces are tracked (facemodels.py), and the packed frame is drawn (packing.py)
in the privacy mode of the moment (privacy.py): only the person, or blurred, or the camera as
it is; then it is sent (packedvideo.py). The GPU work happens on one WebGL2 canvas. This
module schedules the frames and wires those parts together.

Frames never cross into Python; only a face's few dozen numbers do. Every model is optional
(modelsessions.py): without one, the call goes on and the person is told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import js

from frontend_py import webgl
from frontend_py.camerafeed import CameraFeed
from frontend_py.dom import h, on, spawn
from frontend_py.facemodels import FaceModels
from frontend_py.facetracking import Face
from frontend_py.frametimings import STAGES, FrameTimings
from frontend_py.modelinputs import ModelInputs
from frontend_py.modelsessions import SEGMENTATION_SQUARE, ModelSessions, mask_in_phases
from frontend_py.onnxruntime import Provider, Session
from frontend_py.overlays import BY_NAME, Overlay
from frontend_py.packedvideo import PackedVideo
from frontend_py.packing import Packer
from frontend_py.personmask import PersonMask
from frontend_py.privacy import CameraPrivacy, Notice
from frontend_py.sourcevideo import CameraStalled

T = TypeVar("T")

FRAME_SLACK_MS = 8.0  # a camera frame early by up to this much still counts as on time


class Pipeline:
    """Owns the camera's feed, the packed frames and the captured canvas they are sent from."""

    def __init__(self, camera: Any) -> None:
        # Told to the booth that takes the pipeline (which may be made before, `prepare`): a
        # notice for the person, and their own picture's state (getting ready, blurred, asked).
        self.on_notice: Callable[[str], None] = lambda key: None
        self.on_privacy: Callable[[Notice | None], None] = lambda notice: None
        self.feed = CameraFeed(camera)
        # The GPU work happens in a context of its own canvas, never shown nor captured; the
        # packed frames are read back into a canvas in memory that is captured (packedvideo.py).
        canvas = h("canvas")
        self.gl = webgl.context(canvas, alpha=False)
        on(canvas, "webglcontextlost", lambda event: event.preventDefault())  # asks for it back
        on(canvas, "webglcontextrestored", lambda _: spawn(self._context_restored()))
        self.quad = webgl.unit_quad(self.gl)
        self.software_gpu = webgl.software_renderer(self.gl)
        self.frame_texture = webgl.VideoTexture(self.gl, planar=self.software_gpu)
        self.packer = Packer(self.gl, self.frame_texture)
        self.output = PackedVideo(self.packer, lambda pixels: self.on_packed(pixels))
        self.width = self.height = 0
        self.privacy = CameraPrivacy(started_at=js.performance.now() / 1000)
        self.notice: Notice | None = None
        self.overlay: Overlay | None = None
        self.art: dict[str, tuple[webgl.Texture, tuple[float, float, float, float]]] = {}
        self.frame_timings = FrameTimings()
        self.running = False
        self._prepared: asyncio.Future[None] | None = None
        self.on_packed: Callable[[Any], None] = lambda pixels: None  # each packed frame's RGBA bytes
        # After another camera changed the packed frames' size (use_camera): their new width and
        # height, before the first such frame reaches on_packed.
        self.on_resized: Callable[[int, int], None] = lambda width, height: None
        self._frame_lock = asyncio.Lock()  # a frame being made, or the camera being switched
        self.mask = PersonMask(self.gl, SEGMENTATION_SQUARE[1:])
        self.inputs = ModelInputs(self.frame_texture)
        self.face_models = FaceModels(self.inputs)
        self.max_fps = 30.0  # what the peers are sent at most (bandwidth.video_encoding)
        self.on_faces_loading: Callable[[bool], None] = lambda loading: None
        self.models = ModelSessions(
            self._frame_lock, self._use_provider, self._segmentation_failed, lambda key: self.on_notice(key),
            lambda loading: self.on_faces_loading(loading),
        )

    @property
    def camera(self) -> Any:
        """The MediaStream the pipeline was made with; it always holds the camera in use."""
        return self.feed.stream

    @property
    def remove_background(self) -> bool:
        return self.privacy.remove_background

    @remove_background.setter
    def remove_background(self, on: bool) -> None:
        self.privacy.set_removal(on)
        self._need_models()

    @property
    def faces_loading(self) -> bool:
        """An overlay is picked and the face models are on their way."""
        return self.models.faces_loading

    @property
    def packed(self) -> webgl.PixelReader:
        return self.packer.reader

    def show_unmasked(self, agreed: bool) -> None:
        """The person's answer to privacy.Notice.ASK; it holds until they leave the booth."""
        self.privacy.answer(agreed)
        self._update_notice()

    def prepare(self) -> asyncio.Future[None]:
        """What `start` does first, begun now (once): the camera's first frame taken and packed.
        Made while the person is still on the invitation screen, it leaves less to do after
        Join: the camera's video started, each program compiled and run once (a software GPU
        compiles a program at its first draw), 0.2-0.3 s of the guest's way into a call on a
        small machine. Fails with sourcevideo.CameraStalled as `start` raises it."""
        if self._prepared is None:
            self._prepared = asyncio.ensure_future(self._prepare())
            # Read here, so that a failure nobody awaits (the person never joins) is not logged.
            self._prepared.add_done_callback(lambda done: done.cancelled() or done.exception())
        return self._prepared

    @property
    def preparing_failed(self) -> bool:
        prepared = self._prepared
        return prepared is not None and prepared.done() and (prepared.cancelled() or prepared.exception() is not None)

    async def _prepare(self) -> None:
        await self.feed.start()
        self._fit_camera()
        await self._send_first_frame()

    async def start(self) -> Any:
        """Start drawing packed frames at once; the models wait for `load_models`. Returns the
        stream to send: the packed video track plus the camera's own audio. Raises
        sourcevideo.CameraStalled when the camera gives no frame in camerafeed.CAMERA_START_S."""
        await self.prepare()
        self.privacy.started_at = js.performance.now() / 1000
        self._update_notice()
        stream = self.output.capture_stream()
        for track in self.camera.getAudioTracks():
            stream.addTrack(track)
        self.running = True
        spawn(self._run())
        return stream

    def load_models(self, provider: str = "", threads: int = 0) -> None:
        """Load the models needed now, and from now on those asked for later (on `provider`,
        `threads`: "" and 0 choose). Until then frames go out as privacy.py has them without a
        mask. Loading onnxruntime holds this page's thread for a second or more on a small
        machine, so the room asks for it once its links are up (room.py). Once only."""
        if self.models.options is None:
            self.models.options = (provider, threads)
            self._need_models()

    def repeat_frame(self) -> None:
        """Put the last packed frame into the captured canvas again: a peer that has just
        connected gets a frame now, not after the next camera frame has been through the
        models. Those bytes change only once the next frame is wholly read back."""
        if self.running:
            self.output.context.putImageData(self.output.image, 0, 0)

    async def use_camera(self, camera: Any) -> None:
        """Take frames from another camera from now on: `camera` is a MediaStream with its video
        track (media.open_video). The booth goes on: models, overlay and privacy answer stay, and
        the sent video track stays the same track (peers renegotiate nothing). Frames keep coming
        from the old camera until the new one has given its first. Then the new video track takes
        the old one's place in `self.camera` (the stream the pipeline was made with, which so
        always holds the camera in use) and the old one is stopped; if the picture's size
        changed, what is sized by it is made anew and `on_resized` is called.

        Raises sourcevideo.CameraStalled when the new camera gives no frame in
        camerafeed.CAMERA_START_S (or the pipeline stops meanwhile): nothing changed, and the
        new stream is the caller's to stop."""
        incoming = await self.feed.open(camera)
        if not self.running:
            incoming.close()
            raise CameraStalled()
        async with self._frame_lock:  # no frame is made while the camera changes
            self.feed.take_frames(incoming)
            # What was learnt of the old picture says nothing of this one: faces are looked for
            # afresh, and the first frame goes out blurred until this camera's own mask exists.
            self.face_models.forget()
            self.privacy.set_removal(self.privacy.remove_background)
            await self.packed.idle()  # the old camera's last frame is still on its way out
            if self._fit_camera():
                self.on_resized(self.packed.width, self.packed.height)
            self.feed.take_tracks(camera)
            await self._send_first_frame()

    def _fit_camera(self) -> bool:
        """Size what depends on the camera's picture: the packed frames and the captured canvas
        they are put into, and, until segmentation is asked for, the segmentation model (by the
        picture's shape) and its mask targets. Once asked for, the segmentation model stays
        (it takes a picture of any size). False when the picture kept its size."""
        width, height = self.feed.source.size
        if (width, height) == (self.width, self.height):
            return False
        self.width, self.height = width, height
        mask_size = self.models.choose_segmentation(width, height)
        if mask_size is not None:
            self.mask.resize(mask_size)
        self.output.resize(width, height)
        return True

    async def _send_first_frame(self) -> None:
        """The first frame a peer decodes of a camera is that camera (blurred until a mask
        exists), not a blank canvas or the camera of a moment ago."""
        source = self.feed.source
        while not await self.frame_texture.take(source.element):
            if source.closed:
                raise CameraStalled()
            await source.next_frame()
        self.packer.pack(self.privacy.mode(), self.mask.texture)
        await self.output.send_now()

    def stop(self) -> None:
        self.running = False
        self.feed.close()
        self.models.release()

    def discard(self) -> None:
        """Stop, and free the GPU context now: for a pipeline prepared for a camera the person
        then changed (a page holds few contexts; the browser drops the oldest past that)."""
        self.stop()
        if self._prepared is not None:
            self._prepared.cancel()
        webgl.lose_context(self.gl)

    async def _context_restored(self) -> None:
        """A lost GPU context (a driver reset, too many contexts) comes back empty: what frames
        are made with is made again in it, at the camera's size, between two frames. The sent
        track stays the same; until the next mask, frames show nobody (the matte is empty)."""
        async with self._frame_lock:
            self.quad = webgl.unit_quad(self.gl)
            frame = self.frame_texture = self.inputs.frame = webgl.VideoTexture(self.gl, planar=self.software_gpu)
            self.packer = self.output.packer = Packer(self.gl, frame)
            lost = self.mask
            self.mask = PersonMask(self.gl, lost.size)
            self.mask.use_phases(lost.phases)
            if self.inputs.atlas is not None:
                self.inputs.use_atlas(self.gl, lost.size)
            if self.width:
                self.mask.resize(lost.size)
                self.output.resize(self.width, self.height)
            self.art.clear()
            if self.overlay is not None:
                spawn(self._load_art(self.overlay))

    def set_overlay(self, name: str) -> None:
        self.overlay = BY_NAME.get(name)
        if self.overlay is not None and name not in self.art:
            spawn(self._load_art(self.overlay))
        self._need_models()

    def _need_models(self) -> None:
        """Load each model once something needs it: segmentation for background removal, the
        face models (4.5 MB, most of a first visit's models) once an overlay is picked. With
        neither, a booth runs without them (their start-up costs seconds of CPU)."""
        if self.running:
            self.models.need(segmentation=self.remove_background, faces=self.overlay is not None)

    def _use_provider(self, provider: Provider) -> None:
        """Before any model loads: WebGPU's models take tensors resampled on the GPU; the
        wasm provider's segmentation gives its mask in planes."""
        self.mask.use_phases(mask_in_phases(provider.name))
        if provider.name != "wasm":
            self.inputs.use_atlas(self.gl, self.mask.size)

    def _segmentation_failed(self) -> None:
        self.privacy.model_unavailable()
        self._update_notice()

    async def _load_art(self, overlay: Overlay) -> None:
        self.art[overlay.name] = await webgl.overlay_art(self.gl, overlay.name)

    async def _run(self) -> None:
        last = -FRAME_SLACK_MS - 1000.0
        while self.running:
            if self.software_gpu:
                # A software GPU rasterises on the cores the models run on: left to run beside
                # the next frame's models, it made segmentation up to 1.5x as long (2 cores,
                # SwiftShader), so the next frame waits for it.
                await self.packed.idle()
            await self.feed.source.next_frame()
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
        models, inputs, frame = self.models, self.inputs, self.frame_texture
        segmenter = models.segmenter if self.remove_background else None
        track = self.overlay is not None and models.detector is not None and models.landmarker is not None
        keep_rgba = inputs.from_bytes and (segmenter is not None or track)
        if not await frame.take(self.feed.source.element, keep_rgba=keep_rgba):
            return
        in_worker = segmenter is not None and segmenter.in_worker
        # The worker's segmentation is the frame's longest step: it is posted as soon as the
        # frame's bytes exist, before anything else of the frame, and the page works meanwhile.
        segmenting = self._segment(segmenter, timings) if in_worker else None
        mask: Any = None
        faces: list[Face] = []
        try:
            if keep_rgba:
                frame.upload_rgba()
            crops = self.face_models.crops() if track else []
            inputs.prepare(segmenter is not None, crops, self.width, self.height)
            timings["preprocess"] = clock() - begin
            if segmenter is not None and not in_worker:
                # One instance runs one model at a time: the page's runs segmentation, then faces.
                mask = await self._mask(self._segment(segmenter, timings))
            if track:
                work = self.face_models.track(models.detector, models.landmarker, crops, self.width, self.height)
                faces = await self._timed(work, "face", timings)
        finally:
            if in_worker:
                mask = await self._mask(segmenting)
        started = clock()
        if mask is not None:
            self.mask.update(mask)
            self.privacy.mask_ready()
        self.packer.pack(self.privacy.mode(), self.mask.texture)
        timings["pack"] = clock() - started
        if faces and self.overlay is not None and self.overlay.name in self.art:
            started = clock()
            self.packer.draw_overlays(self.overlay, self.art[self.overlay.name], faces)
            timings["overlays"] = clock() - started
        self.output.send(timings)
        timings["total"] = clock() - begin
        timings["at"] = begin
        self.frame_timings.add(timings)

    def _segment(self, segmenter: Session, timings: dict[str, float]) -> Awaitable[list[Any]] | None:
        """Start segmenting this frame (a worker's instance has been posted it when this
        returns), for `_mask` to await; None when it could not even start."""
        try:
            return self._timed(segmenter.run(self.inputs.segmentation()), "segmentation", timings)
        except Exception as exc:  # noqa: BLE001 (the frame goes out masked by the privacy fallback)
            self._frame_unsegmented(exc)
            return None

    async def _mask(self, segmenting: Awaitable[list[Any]] | None) -> Any:
        """The segmentation's output; None when it failed, and this frame goes out without a mask.
        Awaited directly, never as a task: a task costs more turns of the page's event loop (to
        start it, then to resume this frame), each behind whatever else the page has queued."""
        if segmenting is None:
            return None
        try:
            return (await segmenting)[0]
        except Exception as exc:  # noqa: BLE001 (the frame goes out masked by the privacy fallback)
            self._frame_unsegmented(exc)
            return None

    def _frame_unsegmented(self, exc: Exception) -> None:
        js.console.error(f"segmentation: {exc}")
        self.privacy.frame_failed()

    def _timed(self, work: Awaitable[T], stage: str, timings: dict[str, float]) -> Awaitable[T]:
        """`work`, timed from now (a run already under way counts from its start) to its result."""
        started = js.performance.now()

        async def timed() -> T:
            result = await work
            timings[stage] = js.performance.now() - started
            return result

        return timed()

    def still(self) -> tuple[Any, int, int]:
        """The latest frame as our cut-out at the camera's full size (what a photo shows of
        us): straight-alpha RGBA bytes, top row first, with its width and height."""
        faces = self.face_models.landmarked()
        overlay = None
        if faces and self.overlay is not None and self.overlay.name in self.art:
            overlay = (self.overlay, self.art[self.overlay.name], faces)
        return self.packer.still(self.privacy.mode(), self.mask.texture, overlay), self.width, self.height

    def diagnostics(self) -> dict[str, Any]:
        """What the diagnostics panel shows; also read by bench/pipeline.py."""
        provider, segmenter = self.models.provider, self.models.segmenter
        return {
            "provider": provider.describe() if provider else "",
            "segmentation_in_worker": segmenter is not None and segmenter.in_worker,
            "provider_name": provider.name if provider else "",
            "threads": provider.threads if provider else 0,
            "models_failed": self.models.failed,
            "privacy": self.privacy.mode().value,
            "fps": round(self.frame_timings.fps(), 1),
            "frames": self.frame_timings.count,
            "faces": len(self.face_models.tracker.faces),
            "stages": {
                stage: [round(self.frame_timings.percentile(stage, 0.5), 2), round(self.frame_timings.percentile(stage, 0.95), 2)]
                for stage in STAGES
            },
            "samples": list(self.frame_timings.frames),
        }

    def diagnostics_json(self) -> str:
        return json.dumps(self.diagnostics())
