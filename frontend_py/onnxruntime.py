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

ASSETS = "/assets/onnxruntime/"
MODELS = "/models/"
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

    def describe(self) -> str:
        if self.name == "webgpu":
            return f"WebGPU · {self.adapter_name}" if self.adapter_name else "WebGPU"
        return f"wasm SIMD · {self.threads} thread{'s' if self.threads > 1 else ''}"


async def choose_provider(requested: str = "", threads: int = 0) -> Provider:
    """WebGPU when the browser has a real adapter, else wasm (threads when cross-origin
    isolated). `requested` ("webgpu"/"wasm") overrides: "webgpu" accepts a fallback adapter
    too, which is how SwiftShader's is checked for correctness."""
    gpu = nullable(getattr(js.navigator, "gpu", None))
    if requested != "wasm" and gpu is not None:
        adapter = nullable(await gpu.requestAdapter())
        if adapter is not None:
            info = adapter.info
            if requested == "webgpu" or not info.isFallbackAdapter:
                name = " ".join(part for part in (str(info.vendor), str(info.architecture)) if part)
                return Provider("webgpu", 1, adapter, name)
    if threads <= 0:
        threads = min(MAX_THREADS, int(js.navigator.hardwareConcurrency or 1)) if js.crossOriginIsolated else 1
    return Provider("wasm", threads)


class Runtime:
    """One loaded onnxruntime-web module, configured for a provider."""

    def __init__(self, ort: Any, provider: Provider) -> None:
        self.ort, self.provider = ort, provider

    @classmethod
    async def load(cls, provider: Provider) -> Runtime:
        entry = "ort.webgpu.min.mjs" if provider.name == "webgpu" else "ort.wasm.min.mjs"
        ort = await _import_module(ASSETS + entry)
        ort.env.wasm.wasmPaths = ASSETS
        ort.env.wasm.numThreads = provider.threads
        if provider.adapter is not None:
            ort.env.webgpu.adapter = provider.adapter
        return cls(ort, provider)

    async def session(self, model: str) -> Session:
        options = {"executionProviders": [self.provider.name], "graphOptimizationLevel": "all"}
        session = await self.ort.InferenceSession.create(f"{MODELS}{model}.onnx", js_object(options))
        return Session(self.ort, session)


class Session:
    """A model; `run` takes its inputs in order, each as (typed array, shape, dtype), and returns
    its outputs' typed arrays in order."""

    def __init__(self, ort: Any, session: Any) -> None:
        self.ort, self.session = ort, session
        self.input_names = [str(name) for name in session.inputNames]
        self.output_names = [str(name) for name in session.outputNames]

    async def run(self, *inputs: tuple[Any, list[int], str]) -> list[Any]:
        feeds = js.Object.new()
        for name, (data, shape, dtype) in zip(self.input_names, inputs, strict=True):
            setattr(feeds, name, self.ort.Tensor.new(dtype, data, to_js(shape)))
        results = await self.session.run(feeds)
        return [js.Reflect.get(results, name).data for name in self.output_names]
