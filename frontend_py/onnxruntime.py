"""onnxruntime-web through the JS bridge: choose the execution provider, load and run models.

Tensors stay JavaScript typed arrays from readPixels to the model's output; Python only holds
handles to them (and reads the few numbers it needs, such as landmark coordinates).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py.dom import js_object, nullable
from frontend_py.urls import here

ASSETS = "assets/onnxruntime/"  # in the app's folder (frontend_py/urls.py)
MODELS = "models/"
WASM_BINARY = "ort-wasm-simd-threaded.wasm"  # what the wasm entry (ort.wasm.min.mjs) runs
MAX_THREADS = 4
# Dynamic import() is syntax, not a function the bridge can call; this wraps it once.
_import_module = js.Function.new("url", "return import(url)")


@dataclass
class Provider:
    """Where inference runs: "webgpu" (with its adapter) or "wasm" (with a thread count)."""

    name: str
    threads: int = 1
    adapter: Any = None
    adapter_name: str = ""

    def split(self) -> tuple[int, int]:
        """wasm threads for (the page's instance, the worker's instance; 0: no worker). With
        two threads or more, a second instance in a Web Worker runs segmentation while the
        page's runs the face models: a model uses two threads poorly (1.3x), two models
        side by side use them fully, and the page's main thread waits idle, free for the rest
        of the page, instead of computing."""
        if self.name != "wasm" or self.threads < 2:
            return self.threads, 0
        return self.threads - self.threads // 2, self.threads // 2

    def describe(self) -> str:
        if self.name == "webgpu":
            return f"WebGPU · {self.adapter_name}" if self.adapter_name else "WebGPU"
        return f"wasm SIMD · {self.threads} thread{'s' if self.threads > 1 else ''}"


async def choose_provider(requested: str = "", threads: int = 0) -> Provider:
    """WebGPU when the browser has a real adapter, else wasm (up to MAX_THREADS threads, split
    between two instances, `Provider.split`). `requested` ("webgpu"/"wasm") overrides: "webgpu"
    accepts a fallback adapter too, which is how SwiftShader's is checked for correctness."""
    gpu = nullable(getattr(js.navigator, "gpu", None))
    if requested != "wasm" and gpu is not None:
        adapter = nullable(await gpu.requestAdapter())
        if adapter is not None:
            info = adapter.info
            if requested == "webgpu" or not info.isFallbackAdapter:
                name = " ".join(part for part in (str(info.vendor), str(info.architecture)) if part)
                return Provider("webgpu", 1, adapter, name)
    if threads > 0:
        threads = min(threads, MAX_THREADS)
    else:
        cores = int(js.navigator.hardwareConcurrency or 1)
        # One thread per instance needs no shared memory; more do (cross-origin isolation).
        threads = min(MAX_THREADS, cores) if js.crossOriginIsolated else min(2, cores)
    return Provider("wasm", threads)


class Runtime:
    """One loaded onnxruntime-web module, configured for a provider.

    `in_worker` loads a second instance of the module (its own URL, so its own WebAssembly
    instance) that runs in a Web Worker (ORT's proxy mode): its sessions run while the page's
    instance runs others, and the page's main thread is free meanwhile. `binary`, when
    given, is where the instance takes its .wasm from instead of the server (`SharedBinary`)."""

    def __init__(self, ort: Any, provider: Provider, in_worker: bool, binary: SharedBinary | None = None) -> None:
        self.ort, self.provider, self.in_worker = ort, provider, in_worker
        self.binary = binary  # until the first session has compiled it

    @classmethod
    async def load(cls, provider: Provider, in_worker: bool = False, binary: SharedBinary | None = None) -> Runtime:
        entry = "ort.webgpu.min.mjs" if provider.name == "webgpu" else "ort.wasm.min.mjs"
        ort = await _import_module(here().app(ASSETS + entry) + ("?instance=worker" if in_worker else ""))
        ort.env.wasm.wasmPaths = here().app(ASSETS)
        if binary is not None:
            ort.env.wasm.wasmBinary = await binary.bytes()
        ort.env.wasm.numThreads = provider.split()[1 if in_worker else 0]
        ort.env.wasm.proxy = in_worker
        if provider.adapter is not None:
            ort.env.webgpu.adapter = provider.adapter
        return cls(ort, provider, in_worker, binary)

    async def session(self, model: Any) -> Session:
        """`model`: the .onnx file's bytes (`model_bytes`); a worker's instance takes them over.
        The instance's WebAssembly starts with its first session."""
        options = {"executionProviders": [self.provider.name], "graphOptimizationLevel": "all"}
        try:
            session = await self.ort.InferenceSession.create(model, js_object(options))
        finally:
            if self.binary is not None:
                self.binary.taken()
                self.binary = None
        return Session(self.ort, session, in_worker=self.in_worker)


class Runtimes:
    """A provider's instances of onnxruntime-web, each loaded when a model first needs it: the
    page's, and with `Provider.split` the worker's, which then share one download of the .wasm."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.binary = SharedBinary(2) if provider.split()[1] else None
        self._page: asyncio.Future[Runtime] | None = None
        self._worker: asyncio.Future[Runtime] | None = None

    async def page(self) -> Runtime:
        if self._page is None:
            self._page = asyncio.ensure_future(Runtime.load(self.provider, binary=self.binary))
        return await self._page

    async def worker(self) -> Runtime:
        """Raises when workers are not to be had; the page's instance then does the work."""
        if self._worker is None:
            self._worker = asyncio.ensure_future(Runtime.load(self.provider, in_worker=True, binary=self.binary))
        try:
            return await self._worker
        except Exception:
            if self.binary is not None:
                self.binary.taken()  # no worker's instance will take it
            raise


async def model_bytes(model: str) -> Any:
    """A model file's bytes (a Uint8Array), fetched apart from creating its session: creating
    one must wait while another instance's session runs (the WebGPU provider refuses
    otherwise), and the download need not."""
    response = await js.fetch(here().app(f"{MODELS}{model}.onnx"))
    if not response.ok:
        raise OSError(f"{model}.onnx: HTTP {response.status}")
    return js.Uint8Array.new(await response.arrayBuffer())


class SharedBinary:
    """onnxruntime-web's 14 MB .wasm, downloaded once for the page's and the worker's instances.

    Each instance would fetch it itself, and the two fetch it at the same moment, so the HTTP
    cache cannot help (nor can a private window's, which keeps no file this big). Here the page
    fetches it once and both instances compile it from memory (ORT's `env.wasm.wasmBinary`; the
    worker's instance is posted a copy). The worker's instance may load long after the page's,
    or the other way round (the face models wait for an overlay), so the bytes stay until both
    have taken them, or until `release`; then they are freed at once, though ORT still holds a
    reference (the buffer is detached)."""

    def __init__(self, takers: int) -> None:
        self.takers = takers
        self._bytes: asyncio.Future[Any] | None = None

    async def bytes(self) -> Any:
        """The .wasm as an ArrayBuffer."""
        if self._bytes is None:
            self._bytes = asyncio.ensure_future(self._download())
        return await self._bytes

    async def _download(self) -> Any:
        response = await js.fetch(here().app(ASSETS + WASM_BINARY))
        if not response.ok:
            raise OSError(f"{WASM_BINARY}: HTTP {response.status}")
        return await response.arrayBuffer()

    def taken(self) -> None:
        """One instance has compiled it (or given up): the last one frees it."""
        self.takers -= 1
        if self.takers <= 0:
            self.release()

    def release(self) -> None:
        if self._bytes is not None and self._bytes.done() and not self._bytes.cancelled() and self._bytes.exception() is None:
            self._bytes.result().transfer(0)  # detaches it: its 14 MB go now, not when ORT lets go
        self._bytes = None


class Session:
    """A model; `run` takes its inputs in order, each as (typed array, shape, dtype), and gives
    its outputs' typed arrays in order."""

    def __init__(self, ort: Any, session: Any, in_worker: bool = False) -> None:
        self.ort, self.session, self.in_worker = ort, session, in_worker
        self.input_names = [str(name) for name in session.inputNames]
        self.output_names = [str(name) for name in session.outputNames]

    def run(self, *inputs: tuple[Any, list[int], str]) -> Awaitable[list[Any]]:
        """Start the run now, and give what to await for its outputs: a worker's instance has
        been posted the inputs when this returns, so the page can do other work meanwhile."""
        feeds = js.Object.new()
        for name, (data, shape, dtype) in zip(self.input_names, inputs, strict=True):
            if self.in_worker:  # its buffer is transferred to the worker: a copy leaves ours whole
                data = data.slice()
            setattr(feeds, name, self.ort.Tensor.new(dtype, data, to_js(shape)))
        return self._outputs(self.session.run(feeds))

    async def _outputs(self, running: Any) -> list[Any]:
        results = await running
        return [js.Reflect.get(results, name).data for name in self.output_names]
