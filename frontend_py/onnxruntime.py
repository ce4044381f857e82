"""onnxruntime-web through the JS bridge: choose the execution provider, load and run models.

Tensors stay JavaScript typed arrays from readPixels to the model's output; Python only holds
handles to them (and reads the few numbers it needs, such as landmark coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py.dom import js_object, nullable
from frontend_py.urls import here

ASSETS = "assets/onnxruntime/"  # in the app's folder (frontend_py/urls.py)
MODELS = "models/"
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
    if threads <= 0:
        cores = int(js.navigator.hardwareConcurrency or 1)
        # One thread per instance needs no shared memory; more do (cross-origin isolation).
        threads = min(MAX_THREADS, cores) if js.crossOriginIsolated else min(2, cores)
    return Provider("wasm", threads)


class Runtime:
    """One loaded onnxruntime-web module, configured for a provider.

    `in_worker` loads a second instance of the module (its own URL, so its own WebAssembly
    instance) that runs in a Web Worker (ORT's proxy mode): its sessions run while the page's
    instance runs others, and the page's main thread is free meanwhile."""

    def __init__(self, ort: Any, provider: Provider, in_worker: bool) -> None:
        self.ort, self.provider, self.in_worker = ort, provider, in_worker

    @classmethod
    async def load(cls, provider: Provider, in_worker: bool = False) -> Runtime:
        entry = "ort.webgpu.min.mjs" if provider.name == "webgpu" else "ort.wasm.min.mjs"
        ort = await _import_module(here().app(ASSETS + entry) + ("?instance=worker" if in_worker else ""))
        ort.env.wasm.wasmPaths = here().app(ASSETS)
        ort.env.wasm.numThreads = provider.split()[1 if in_worker else 0]
        ort.env.wasm.proxy = in_worker
        if provider.adapter is not None:
            ort.env.webgpu.adapter = provider.adapter
        return cls(ort, provider, in_worker)

    async def session(self, model: str) -> Session:
        options = {"executionProviders": [self.provider.name], "graphOptimizationLevel": "all"}
        session = await self.ort.InferenceSession.create(here().app(f"{MODELS}{model}.onnx"), js_object(options))
        return Session(self.ort, session, in_worker=self.in_worker)


class Session:
    """A model; `run` takes its inputs in order, each as (typed array, shape, dtype), and returns
    its outputs' typed arrays in order."""

    def __init__(self, ort: Any, session: Any, in_worker: bool = False) -> None:
        self.ort, self.session, self.in_worker = ort, session, in_worker
        self.input_names = [str(name) for name in session.inputNames]
        self.output_names = [str(name) for name in session.outputNames]

    async def run(self, *inputs: tuple[Any, list[int], str]) -> list[Any]:
        feeds = js.Object.new()
        for name, (data, shape, dtype) in zip(self.input_names, inputs, strict=True):
            if self.in_worker:  # its buffer is transferred to the worker: a copy leaves ours whole
                data = data.slice()
            setattr(feeds, name, self.ort.Tensor.new(dtype, data, to_js(shape)))
        results = await self.session.run(feeds)
        return [js.Reflect.get(results, name).data for name in self.output_names]
