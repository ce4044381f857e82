"""The diagnostics panel: where the AI runs, frames per second and per-stage timings.

With the diagnostics switch on (`?diagnostics=1`), the page also publishes test hooks
(`publish_hook`): the panel's figures as `globalThis.clovDiagnostics()` (a JSON string) for
bench/pipeline.py and the tests, and the room's `clovStage`, `clovStagePng`, `clovCutout` and
`clovCapture`. Without it the page has none of them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_proxy

from frontend_py.dom import h, spawn
from frontend_py.frametimings import STAGES
from frontend_py.pipeline import Pipeline
from frontend_py.ui import text

REFRESH_S = 1.0
SWITCH = "diagnostics"  # `?diagnostics=1` lets the tests read and bend the page

_hooks: dict[str, Any] = {}  # the proxies behind the published hooks, by global name


def diagnostics_on() -> bool:
    return js.URLSearchParams.new(js.location.search).get(SWITCH) == "1"


def diagnostic_text(name: str) -> str:
    """A check's `?{name}=text` (`ep=wasm`...), honoured only with the diagnostics switch on;
    "" otherwise, so no link a person is sent can change how the booth behaves."""
    if not diagnostics_on():
        return ""
    return str(js.URLSearchParams.new(js.location.search).get(name) or "")


def diagnostic_number(name: str) -> float:
    """A test's `?{name}=number` (a skewed clock...), as `diagnostic_text`; 0 when off, absent
    or not a finite number."""
    try:
        number = float(diagnostic_text(name) or 0)
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def publish_hook(name: str, hook: Callable[..., Any]) -> None:
    """`globalThis[name] = hook` for the tests and bench/ to read the page through, only with
    the diagnostics switch on: the product's own path neither needs nor shows them."""
    if not diagnostics_on():
        return
    previous = _hooks.pop(name, None)
    if previous is not None:
        previous.destroy()  # the booth entered before this one: its objects are gone
    _hooks[name] = create_proxy(hook)
    setattr(js.globalThis, name, _hooks[name])


class DiagnosticsPanel:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.provider = h("dd", {"id": "diagnostics-provider"})
        self.fps = h("dd", {"id": "diagnostics-fps"})
        self.faces = h("dd", {"id": "diagnostics-faces"})
        self.rows = {stage: (h("td", {}), h("td", {})) for stage in STAGES}
        table = h(
            "table",
            {"class": "diagnostics-stages"},
            h("thead", {}, h("tr", {}, text("th", "diagnostics.stage"), h("th", {}, "p50 ms"), h("th", {}, "p95 ms"))),
            h(
                "tbody",
                {},
                *[h("tr", {"data-stage": stage}, text("th", f"stage.{stage}"), *cells) for stage, cells in self.rows.items()],
            ),
        )
        self.element = h(
            "details",
            {"id": "diagnostics", "class": "diagnostics"},
            text("summary", "diagnostics"),
            h(
                "dl",
                {},
                text("dt", "diagnostics.provider"),
                self.provider,
                text("dt", "diagnostics.fps"),
                self.fps,
                text("dt", "diagnostics.faces"),
                self.faces,
            ),
            table,
        )
        publish_hook("clovDiagnostics", pipeline.diagnostics_json)
        self._task = spawn(self._refresh())

    async def _refresh(self) -> None:
        while True:
            report = self.pipeline.diagnostics()
            if report["provider"]:
                self.provider.textContent = report["provider"]
                if report["segmentation_in_worker"]:
                    self.provider.append(" ", text("span", "diagnostics.worker"))
                self.element.dataset.provider = report["provider_name"]
            elif not self.provider.textContent:
                self.provider.append(text("span", "diagnostics.loading"))
            self.fps.textContent = f"{report['fps']:.1f}"
            self.faces.textContent = str(report["faces"])
            for stage, (p50, p95) in self.rows.items():
                median, tail = report["stages"][stage]
                p50.textContent = f"{median:.1f}" if median else "–"
                p95.textContent = f"{tail:.1f}" if tail else "–"
            await asyncio.sleep(REFRESH_S)

    def close(self) -> None:
        self._task.cancel()
