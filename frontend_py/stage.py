"""The shared stage on screen: its canvas, what is on it, and edits to the layout.

Every participant renders its own stage from the replicated layout (frontend_py/layout.py),
with the renderer photos use too (stagerenderer.py). Edits by hand (stageinput.py) become
layout ops that the room sends to every peer; the selected layer is outlined by
stageselection.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_proxy

from frontend_py import transform, webgl
from frontend_py.dom import h, on, spawn
from frontend_py.layout import ASPECTS, LayerState, Layout, StageState
from frontend_py.placement import row_places
from frontend_py.stageinput import StageInput
from frontend_py.stagerenderer import DEFAULT_PERSON_ASPECT, Person, StageRenderer, resolution_scale
from frontend_py.stageselection import SelectionOverlay
from frontend_py.ui import t

SIZES = {"16:9": (1280, 720), "3:4": (720, 960)}
STICKER_SCALE = 0.25
FRAME_INTERVAL_MS = 1000 / 30  # redraws are capped: the stage changes at most at camera rate


class StageCanvas:
    """The stage's <canvas>, its GPU context and its renderer. The invitation screen makes one
    while the person is there and draws it once (`warm_up`), for the booth to take at Join."""

    def __init__(self) -> None:
        self.element = h("canvas", {"id": "stage", "class": "stage-canvas", "tabindex": "0", "aria-label": t("stage.label")})
        self.gl = webgl.context(self.element, alpha=False)
        self.software = webgl.software_renderer(self.gl)
        self.resolution = resolution_scale(self.gl)
        self.renderer = StageRenderer(self.gl, lambda: None)

    def size(self, aspect: str) -> tuple[int, int]:
        """The canvas' width and height for a stage of that aspect."""
        width, height = SIZES[aspect]
        return round(width * self.resolution), round(height * self.resolution)

    def warm_up(self) -> None:
        """Draw the default stage once (StageRenderer.warm_up), at the size it will show at."""
        width, height = self.size(StageState().aspect)
        self.element.width, self.element.height = width, height
        webgl.bind_canvas(self.gl, width, height)
        self.renderer.warm_up(width, height, self.software)


class Stage:
    """The canvas, its selection overlay and its editing controls."""

    def __init__(
        self, own_id: str, layout: Layout, send_ops: Callable[[list[dict[str, Any]]], None], sync_timing: bool = False,
        canvas: StageCanvas | None = None,
    ) -> None:
        """`canvas`: one made before the booth (lobby.Preview), else the stage makes its own."""
        self.own_id, self.layout, self.send_ops = own_id, layout, send_ops
        # With sync_timing each draw waits for the GPU (a 1-pixel read), so draw_times is the
        # real render time; bench/stage.py turns it on (?sync-timing=1), never the app itself.
        self.sync_timing = sync_timing
        self._probe = js.Uint8Array.new(4)
        self.stage_canvas = canvas or StageCanvas()
        self.canvas, self.gl, self.renderer = self.stage_canvas.element, self.stage_canvas.gl, self.stage_canvas.renderer
        self.software, self.resolution = self.stage_canvas.software, self.stage_canvas.resolution
        self.renderer.on_ready = self._redraw
        self.people = self.renderer.people
        self.synced = False  # set once the booth's layout has reached us (stagesync.py)
        self.selected: str | None = None
        self.dirty = True
        self.last_draw = 0.0
        self.draw_times: list[float] = []
        self.selection = SelectionOverlay(self._set_opacity, self.restack, self.delete_selected)
        self.frame = h("div", {"class": "stage-frame"}, self.canvas, self.selection.svg, self.selection.toolbar)
        self.element = h("section", {"class": "stage"}, self.frame)
        self.input = StageInput(self)
        on(self.canvas, "webglcontextlost", self._context_lost)
        on(self.canvas, "webglcontextrestored", self._context_restored)
        self._size()
        self._on_animation_frame = create_proxy(self._animation_frame)
        js.requestAnimationFrame(self._on_animation_frame)

    # ----------------------------------------------------------------- content

    def add_person(self, peer: str, video: Any) -> None:
        """Draw `peer` from `video` (a packed stream); its frames are uploaded as they arrive."""
        if peer in self.people:
            self.people[peer].source = video
            return
        person = self.people[peer] = Person(video, webgl.VideoTexture(self.gl, planar=self.software))

        async def upload() -> None:
            try:
                await person.texture.take(person.source)
            finally:
                person.uploading = False
            self.dirty = True

        def on_frame(*_: Any) -> None:
            if not person.uploading:
                person.uploading = True
                spawn(upload())
            person.pending = video.requestVideoFrameCallback(proxy)

        proxy = create_proxy(on_frame)
        person.pending = video.requestVideoFrameCallback(proxy)

    def add_own_person(self, peer: str, width: int, height: int) -> Callable[[Any], None]:
        """Draw `peer` from packed frames given as RGBA bytes (top row first) to the returned function."""
        replaced = self.people.get(peer)
        if replaced is not None:  # a camera of another size
            replaced.texture.delete()
        person = self.people[peer] = Person(None, webgl.Texture(self.gl), own_size=(width, height))

        def frame(pixels: Any) -> None:
            if not self.gl.isContextLost():
                person.texture.upload_pixels(pixels, width, height)
                self.dirty = True

        return frame

    def remove_person(self, peer: str) -> None:
        person = self.people.pop(peer, None)
        if person is not None:
            if person.pending is not None:
                person.source.cancelVideoFrameCallback(person.pending)
            person.texture.delete()
        if self.selected == peer:
            self.select(None)
        self.dirty = True

    def add_image(self, image: str, bitmap: Any) -> None:
        self.renderer.add_image(image, bitmap)
        self.dirty = True

    def _redraw(self) -> None:
        self.dirty = True

    def changed(self) -> None:
        """The layout changed (here or from a peer): redraw, and keep our own place tidy."""
        self._size()
        self.arrange()
        self.dirty = True
        self._show_selection()

    def arrange(self) -> None:
        """Stand in the booth's row while nobody has moved us by hand; every peer does this for
        its own layer only, in the same order, so the row converges without a coordinator.
        Not before the others' snapshot is here (`synced`): someone rejoining would otherwise
        put a fresh place, newer than the one friends gave them, over it."""
        if not self.synced:
            return
        own = self.layout.layer(self.own_id)
        if own is not None and not own.auto:
            return
        stage_aspect = ASPECTS[self.layout.stage().aspect]
        aspect = self.aspect_of(self.own_id)
        if own is None:
            top = self.layout.top_z()
            self._edit(self.own_id, {"auto": True, "z": top + 1, "rotation": 0.0, "opacity": 1.0, **row_places(1, aspect, stage_aspect)[0]})
            own = self.layout.layer(self.own_id)
        row = sorted((layer for layer in self.layout.layers() if layer.kind == "person" and layer.auto), key=lambda layer: (layer.z, layer.id))
        index = next(i for i, layer in enumerate(row) if layer.id == self.own_id)
        place = row_places(len(row), aspect, stage_aspect)[index]
        if any(abs(getattr(own, key) - value) > 1e-6 for key, value in place.items()):
            self._edit(self.own_id, place)

    # ----------------------------------------------------------------- drawing

    def _size(self) -> None:
        width, height = self.stage_canvas.size(self.layout.stage().aspect)
        if self.canvas.width != width or self.canvas.height != height:
            self.canvas.width, self.canvas.height = width, height
            self.selection.resize(width, height)
            self.frame.dataset.aspect = self.layout.stage().aspect
            self.dirty = True

    def _animation_frame(self, now: float) -> None:
        if self.dirty and now - self.last_draw >= FRAME_INTERVAL_MS - 2 and not self.gl.isContextLost():
            self.last_draw = now
            self.dirty = False
            started = js.performance.now()
            self.draw()
            if self.sync_timing:
                self.gl.readPixels(0, 0, 1, 1, self.gl.RGBA, self.gl.UNSIGNED_BYTE, self._probe)
            self.draw_times.append(js.performance.now() - started)
            del self.draw_times[:-300]
        js.requestAnimationFrame(self._on_animation_frame)

    def draw(self) -> None:
        width, height = int(self.canvas.width), int(self.canvas.height)
        webgl.bind_canvas(self.gl, width, height)
        self.renderer.draw(self.layout.stage(), self.layout.layers(), width, height)

    def aspect_of(self, layer_id: str) -> float:
        layer = self.layout.layer(layer_id)
        if layer is None:
            person = self.people.get(layer_id)
            return person.aspect if person else DEFAULT_PERSON_ASPECT
        return self.renderer.aspect(layer)

    def render_times(self) -> list[float]:
        return list(self.draw_times)

    def png(self) -> str:
        """The stage as a PNG data URL, drawn now (the canvas keeps no copy once composited)."""
        self.draw()
        return str(self.canvas.toDataURL("image/png"))

    # ----------------------------------------------------------------- editing

    def _edit(self, layer: str, values: dict[str, Any]) -> None:
        ops = self.layout.edit_many(layer, values)
        self.send_ops(ops)
        self.dirty = True

    def edit(self, layer: str, values: dict[str, Any]) -> None:
        """A change made by hand: people moved by hand leave the booth's automatic row."""
        if self.layout.layer(layer) is not None and self.layout.layer(layer).kind == "person":
            values = {**values, "auto": False}
        self._edit(layer, values)
        self._show_selection()

    def add_sticker(self, name: str) -> None:
        top = self.layout.top_z()
        layer = self.layout.new_sticker_id()
        self._edit(layer, {"sticker": name, "x": 0.5, "y": 0.4, "scale": STICKER_SCALE, "rotation": 0.0, "opacity": 1.0, "z": top + 1})
        self.select(layer)

    def select(self, layer: str | None) -> None:
        self.selected = layer
        self.canvas.dataset.selected = layer or ""
        self._show_selection()

    def selected_layer(self) -> LayerState | None:
        return self.layout.layer(self.selected) if self.selected else None

    def layer_at(self, point: tuple[float, float]) -> LayerState | None:
        """The topmost layer under a point in stage pixels."""
        layers = self.layout.layers()
        hit = transform.hit_test(layers, point, {shown.id: self.aspect_of(shown.id) for shown in layers}, *self.size())
        return self.layout.layer(hit) if hit else None

    def size(self) -> tuple[int, int]:
        return int(self.canvas.width), int(self.canvas.height)

    def _show_selection(self) -> None:
        layer = self.selected_layer()
        if layer is None or layer.id not in {shown.id for shown in self.layout.layers()}:
            self.selected = None
            self.selection.hide()
            return
        self.selection.show(layer, self.aspect_of(layer.id), *self.size(), self.resolution)

    def _set_opacity(self, opacity: float) -> None:
        if self.selected:
            self.edit(self.selected, {"opacity": opacity})

    def restack(self, direction: int) -> None:
        """The selected layer one step forward (+1) or backward (-1)."""
        layer = self.selected_layer()
        if layer is None:
            return
        for layer_id, z in self.layout.restacked(layer.id, up=direction > 0).items():
            self.edit(layer_id, {"z": z})

    def delete_selected(self) -> None:
        layer = self.selected_layer()
        if layer is not None and layer.kind == "sticker":
            self._edit(layer.id, {"removed": True})
            self.select(None)

    def _context_lost(self, event: Any) -> None:
        event.preventDefault()  # asks the browser to restore the context when it can

    def _context_restored(self, _: Any) -> None:
        self.renderer.restore()
        self.dirty = True

    def state_json(self) -> str:
        """The layout as this participant renders it, for tests and benchmarks."""
        width, height = int(self.canvas.width), int(self.canvas.height)
        return json.dumps(
            {
                "width": width,
                "height": height,
                "resolution": self.resolution,
                "stage": {"background": self.layout.stage().background, "aspect": self.layout.stage().aspect},
                "layers": [
                    {**layer.__dict__, "aspect": self.aspect_of(layer.id), "corners": transform.corners(layer, self.aspect_of(layer.id), width, height)}
                    for layer in self.layout.layers()
                ],
            }
        )
