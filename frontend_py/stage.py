"""The shared stage on screen: its canvas, the selection overlay and editing by hand.

Every participant renders its own stage from the replicated layout (frontend_py/layout.py),
with the renderer photos use too (stagerenderer.py). Pointer, touch and arrow-key edits become
layout ops that the room sends to every peer; ops from peers arrive through `apply`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_proxy

from frontend_py import transform, webgl
from frontend_py.dom import h, on, spawn
from frontend_py.layout import ASPECTS, Layout
from frontend_py.placement import row_places
from frontend_py.stagerenderer import DEFAULT_PERSON_ASPECT, Person, StageRenderer, resolution_scale
from frontend_py.ui import t, text

SIZES = {"16:9": (1280, 720), "3:4": (720, 960)}
STICKER_SCALE = 0.25
NUDGE_PX, NUDGE_FAST_PX = 2.0, 20.0
FRAME_INTERVAL_MS = 1000 / 30  # redraws are capped: the stage changes at most at camera rate


class Stage:
    """The canvas, its selection overlay and its editing controls."""

    def __init__(
        self, own_id: str, layout: Layout, send_ops: Callable[[list[dict[str, Any]]], None], sync_timing: bool = False
    ) -> None:
        self.own_id, self.layout, self.send_ops = own_id, layout, send_ops
        # With sync_timing each draw waits for the GPU (a 1-pixel read), so draw_times is the
        # real render time; bench/stage.py turns it on (?sync-timing=1), never the app itself.
        self.sync_timing = sync_timing
        self._probe = js.Uint8Array.new(4)
        self.canvas = h("canvas", {"id": "stage", "class": "stage-canvas", "tabindex": "0", "aria-label": t("stage.label")})
        self.gl = webgl.context(self.canvas, alpha=False)
        self.software = webgl.software_renderer(self.gl)
        self.resolution = resolution_scale(self.gl)
        self.renderer = StageRenderer(self.gl, self._redraw)
        self.people = self.renderer.people
        self.synced = False  # set once the booth's layout has reached us (stagesync.py)
        self.selected: str | None = None
        self.drag: dict[str, Any] | None = None
        self.dirty = True
        self.last_draw = 0.0
        self.draw_times: list[float] = []
        self.selection = js.document.createElementNS("http://www.w3.org/2000/svg", "svg")
        self.selection.setAttribute("class", "stage-selection")
        self.selection.setAttribute("aria-hidden", "true")
        self.opacity = h("input", {"id": "layer-opacity", "type": "range", "min": "0", "max": "100", "aria-label": t("layer.opacity")})
        self.toolbar = h(
            "div",
            {"id": "layer-tools", "class": "layer-tools", "hidden": True},
            h("label", {"class": "opacity"}, text("span", "layer.opacity"), self.opacity),
            text("button", "layer.forward", {"id": "layer-forward", "class": "button small", "type": "button"}),
            text("button", "layer.backward", {"id": "layer-backward", "class": "button small", "type": "button"}),
            text("button", "layer.delete", {"id": "layer-delete", "class": "button small danger", "type": "button"}),
        )
        self.frame = h("div", {"class": "stage-frame"}, self.canvas, self.selection, self.toolbar)
        self.element = h("section", {"class": "stage"}, self.frame)
        self._size()
        self._wire()
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
                await person.texture.upload(person.source)
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
        aspect = self._aspect(self.own_id)
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
        width, height = (round(side * self.resolution) for side in SIZES[self.layout.stage().aspect])
        if self.canvas.width != width or self.canvas.height != height:
            self.canvas.width, self.canvas.height = width, height
            self.selection.setAttribute("viewBox", f"0 0 {width} {height}")
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

    def _aspect(self, layer_id: str) -> float:
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

    def _show_selection(self) -> None:
        layer = self.layout.layer(self.selected) if self.selected else None
        if layer is None or layer.id not in {shown.id for shown in self.layout.layers()}:
            self.selected = None
            self.selection.innerHTML = ""
            self.toolbar.hidden = True
            return
        width, height = int(self.canvas.width), int(self.canvas.height)
        aspect = self._aspect(layer.id)
        corners = transform.corners(layer, aspect, width, height)
        spots = transform.handles(layer, aspect, width, height, self._handle_offset)
        top_middle = ((corners[0][0] + corners[1][0]) / 2, (corners[0][1] + corners[1][1]) / 2)
        rotate = spots["rotate"]
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
        parts = [
            f'<polygon points="{outline}" class="outline"/>',
            f'<line x1="{top_middle[0]:.1f}" y1="{top_middle[1]:.1f}" x2="{rotate[0]:.1f}" y2="{rotate[1]:.1f}" class="outline"/>',
            *[f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{self._handle_radius}" class="handle" data-handle="{name}"/>'
              for name, (x, y) in spots.items()],
        ]
        self.selection.innerHTML = "".join(parts)
        self.toolbar.hidden = False
        self.opacity.value = str(round(layer.opacity * 100))
        self.toolbar.querySelector("#layer-delete").hidden = layer.kind != "sticker"

    @property
    def _handle_radius(self) -> float:
        return transform.HANDLE_RADIUS_PX * self.resolution

    @property
    def _handle_offset(self) -> float:
        return transform.ROTATE_OFFSET_PX * self.resolution

    def _stage_point(self, event: Any) -> tuple[float, float]:
        box = self.canvas.getBoundingClientRect()
        return (
            (event.clientX - box.left) * int(self.canvas.width) / box.width,
            (event.clientY - box.top) * int(self.canvas.height) / box.height,
        )

    def _context_lost(self, event: Any) -> None:
        event.preventDefault()  # asks the browser to restore the context when it can

    def _context_restored(self, _: Any) -> None:
        """A lost GPU context (a driver reset, too many contexts) comes back empty: everything
        made in it is made again, people's textures included; the pictures reload themselves."""
        images = self.renderer.images
        self.renderer = StageRenderer(self.gl, self._redraw)
        self.renderer.images.update(images)
        for peer, person in list(self.people.items()):
            self.renderer.people[peer] = person
            if isinstance(person.texture, webgl.VideoTexture):
                person.texture = webgl.VideoTexture(self.gl, planar=self.software)
            else:
                person.texture = webgl.Texture(self.gl)
                person.texture.width, person.texture.height = person.own_size
        self.people = self.renderer.people
        self.dirty = True

    def _wire(self) -> None:
        on(self.canvas, "webglcontextlost", self._context_lost)
        on(self.canvas, "webglcontextrestored", self._context_restored)
        on(self.canvas, "pointerdown", self._pointer_down)
        on(self.canvas, "pointermove", self._pointer_move)
        on(self.canvas, "pointerup", self._pointer_up)
        on(self.canvas, "pointercancel", self._pointer_up)
        on(self.canvas, "keydown", self._key)
        on(self.opacity, "input", lambda _: self.selected and self.edit(self.selected, {"opacity": int(self.opacity.value) / 100}))
        on(self.toolbar.querySelector("#layer-forward"), "click", lambda _: self._restack(1))
        on(self.toolbar.querySelector("#layer-backward"), "click", lambda _: self._restack(-1))
        on(self.toolbar.querySelector("#layer-delete"), "click", self._delete)

    def _pointer_down(self, event: Any) -> None:
        point = self._stage_point(event)
        width, height = int(self.canvas.width), int(self.canvas.height)
        layer = self.layout.layer(self.selected) if self.selected else None
        handle = (
            transform.handle_at(layer, point, self._aspect(layer.id), width, height, self._handle_radius, self._handle_offset)
            if layer
            else None
        )
        if handle is None:
            layers = self.layout.layers()
            hit = transform.hit_test(layers, point, {shown.id: self._aspect(shown.id) for shown in layers}, width, height)
            self.select(hit)
            layer = self.layout.layer(hit) if hit else None
        if layer is None:
            return
        self.canvas.setPointerCapture(event.pointerId)
        self.canvas.focus()
        self.drag = {"layer": layer, "start": point, "handle": handle or "move"}
        event.preventDefault()

    def _pointer_move(self, event: Any) -> None:
        if self.drag is None:
            return
        point = self._stage_point(event)
        start, layer, handle = self.drag["start"], self.drag["layer"], self.drag["handle"]
        width, height = int(self.canvas.width), int(self.canvas.height)
        if handle == "move":
            values = transform.moved(layer, point[0] - start[0], point[1] - start[1], width, height)
        elif handle == "rotate":
            values = transform.rotated(layer, start, point, width, height)
        else:
            values = transform.resized(layer, start, point, width, height)
        self.edit(layer.id, values)

    def _pointer_up(self, event: Any) -> None:
        if self.drag is not None:
            self.canvas.releasePointerCapture(event.pointerId)
            self.drag = None

    def _key(self, event: Any) -> None:
        layer = self.layout.layer(self.selected) if self.selected else None
        if layer is None:
            return
        if event.key in transform.ARROWS:
            step = NUDGE_FAST_PX if event.shiftKey else NUDGE_PX
            self.edit(layer.id, transform.nudged(layer, event.key, int(self.canvas.width), int(self.canvas.height), step))
            event.preventDefault()
        elif event.key == "Escape":
            self.select(None)
        elif event.key in ("Delete", "Backspace") and layer.kind == "sticker":
            self._delete(event)

    def _restack(self, direction: int) -> None:
        layer = self.layout.layer(self.selected) if self.selected else None
        if layer is None:
            return
        for layer_id, z in self.layout.restacked(layer.id, up=direction > 0).items():
            self.edit(layer_id, {"z": z})

    def _delete(self, _: Any) -> None:
        if self.selected and self.layout.layer(self.selected).kind == "sticker":
            self._edit(self.selected, {"removed": True})
            self.select(None)

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
                    {**layer.__dict__, "aspect": self._aspect(layer.id), "corners": transform.corners(layer, self._aspect(layer.id), width, height)}
                    for layer in self.layout.layers()
                ],
            }
        )
