"""The models and where they run: the provider, chosen once for all of them (onnxruntime.py),
and a session per model, each loaded once something needs it. Every model is optional: one
that fails to load is reported, and the call goes on without it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import js

from frontend_py.dom import spawn
from frontend_py.onnxruntime import Provider, Runtimes, Session, choose_provider, model_bytes

# (model, input width, height), paired with the camera's shape as MediaPipe does. The
# landscape model costs half as much, but on a squeezed 4:3 picture it takes things near the
# person for foreground (the flag on the wall of our test photo); the square one does not.
SEGMENTATION_WIDE = ("selfie_segmentation_landscape", 256, 144)
SEGMENTATION_SQUARE = ("selfie_segmentation", 256, 256)
DETECTOR = "face_detection_full_range"
LANDMARKS = "face_landmark"


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


def mask_in_phases(provider: str) -> bool:
    """Whether the provider's segmentation build gives its mask as four half-size planes:
    the wasm provider's (`_frame`) builds do (models/README.md)."""
    return model_file(SEGMENTATION_SQUARE[0], provider).endswith("_frame")


class ModelSessions:
    """The segmenter, and the detector and landmarker of the face models, each None until
    loaded. `on_provider` hears of the provider before any model loads on it; a failure is
    told through `on_segmentation_failed` (the privacy fallback takes over) and `on_notice`.
    `frame_lock` is held while a frame is made: the WebGPU provider creates no session then."""

    def __init__(
        self,
        frame_lock: asyncio.Lock,
        on_provider: Callable[[Provider], None],
        on_segmentation_failed: Callable[[], None],
        on_notice: Callable[[str], None],
        on_faces_loading: Callable[[bool], None],
    ) -> None:
        self.frame_lock = frame_lock
        self.on_provider = on_provider
        self.on_segmentation_failed = on_segmentation_failed
        self.on_notice = on_notice
        self.on_faces_loading = on_faces_loading
        self.provider: Provider | None = None
        self.runtimes: asyncio.Future[Runtimes | None] | None = None
        self.segmenter: Session | None = None
        self.detector: Session | None = None
        self.landmarker: Session | None = None
        self.failed: list[str] = []
        self.segmentation = SEGMENTATION_SQUARE[0]
        self.options: tuple[str, int] | None = None  # (provider, threads) asked for, once the booth runs
        self.segmentation_requested = False
        self.faces_requested = False
        self.faces_loading = False  # an overlay is picked and the face models are on their way

    def choose_segmentation(self, width: int, height: int) -> tuple[int, int] | None:
        """Pick the segmentation model for a picture of this shape, and give its output size;
        None once segmentation is asked for: that model stays (it takes a picture of any size)."""
        if self.segmentation_requested:
            return None
        self.segmentation, mask_width, mask_height = segmentation_model(width, height)
        return mask_width, mask_height

    def need(self, segmentation: bool, faces: bool) -> None:
        """Load the segmentation model, or the face models, the first time they are needed."""
        if self.options is None:
            return
        if segmentation and not self.segmentation_requested:
            self.segmentation_requested = True
            spawn(self._load_segmentation())
        if faces and not self.faces_requested:
            self.faces_requested = True
            spawn(self._load_faces())

    def release(self) -> None:
        """Let go of the runtime's shared binary once the booth is left."""
        if self.runtimes is not None and self.runtimes.done() and self.runtimes.result() is not None:
            binary = self.runtimes.result().binary
            if binary is not None:
                binary.release()

    async def _runtimes(self) -> Runtimes | None:
        """The provider, chosen once for all the models; None when none can be had here."""
        if self.runtimes is None:
            self.runtimes = asyncio.ensure_future(self._choose_runtimes(*self.options))
        return await self.runtimes

    async def _choose_runtimes(self, requested: str, threads: int) -> Runtimes | None:
        try:
            self.provider = await choose_provider(requested, threads)
        except Exception as exc:  # noqa: BLE001 (no provider: the privacy notice takes over)
            js.console.error(f"onnxruntime-web: {exc}")
            self.failed = [self.segmentation, DETECTOR, LANDMARKS]
            self.on_segmentation_failed()
            self.on_notice("ai.no_faces")
            return None
        self.on_provider(self.provider)
        return Runtimes(self.provider)

    async def _create_session(self, runtimes: Runtimes, model: str) -> Session:
        """On the page's instance. The WebGPU provider refuses to create a session while another
        one runs: there, no frame is made meanwhile (the model downloads before)."""
        data = await model_bytes(model_file(model, runtimes.provider.name))
        runtime = await runtimes.page()
        idle = self.frame_lock if runtimes.provider.name == "webgpu" else contextlib.nullcontext()
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
            self.failed.append(self.segmentation)
            self.on_segmentation_failed()

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
                    self.failed.append(name)
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
