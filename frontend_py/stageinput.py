"""Editing the stage by hand: mouse, pen, fingers and keys become layout edits.

One pointer moves the layer under it, or resizes or turns the selected one by its handles.
Two fingers pinch, twist and carry the selected layer at once (gestures.py); a double tap
brings it forward. Arrow keys nudge it, Escape lets go, Delete removes a sticker. Everything
ends in `Stage.edit`, the same layout ops a peer's edits arrive as: no gesture has a sync of
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from frontend_py import gestures, transform
from frontend_py.dom import on
from frontend_py.layout import LayerState

if TYPE_CHECKING:
    from frontend_py.stage import Stage

NUDGE_PX, NUDGE_FAST_PX = 2.0, 20.0
TOUCH_HANDLE_FACTOR = 2.0  # a fingertip covers about twice what a mouse pointer needs


@dataclass
class Drag:
    layer: LayerState  # as it was when the drag began
    start: gestures.Point
    handle: str  # "move", "rotate" or a corner


@dataclass
class Pinch:
    layer: LayerState
    fingers: tuple[int, int]  # pointer ids
    first: tuple[gestures.Point, gestures.Point]


class StageInput:
    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.pointers: dict[int, gestures.Point] = {}  # stage pixels, where each pointer is now
        self.drag: Drag | None = None
        self.pinch: Pinch | None = None
        self.taps = gestures.DoubleTap()
        canvas = stage.canvas
        on(canvas, "pointerdown", self._down)
        on(canvas, "pointermove", self._move)
        on(canvas, "pointerup", self._up)
        on(canvas, "pointercancel", self._up)
        on(canvas, "keydown", self._key)

    def _point(self, event: Any) -> gestures.Point:
        box = self.stage.canvas.getBoundingClientRect()
        return (
            (event.clientX - box.left) * int(self.stage.canvas.width) / box.width,
            (event.clientY - box.top) * int(self.stage.canvas.height) / box.height,
        )

    def _down(self, event: Any) -> None:
        if len(self.pointers) >= 2:
            return
        point = self._point(event)
        self.pointers[event.pointerId] = point
        self.stage.canvas.setPointerCapture(event.pointerId)
        event.preventDefault()
        if len(self.pointers) == 2:
            self.taps.cancel()
            self.drag = None
            layer = self.stage.selected_layer()
            if layer is not None:
                first, second = self.pointers
                self.pinch = Pinch(layer, (first, second), (self.pointers[first], self.pointers[second]))
            return
        self.taps.down(event.timeStamp, (event.clientX, event.clientY))
        layer = self.stage.selected_layer()
        handle = None
        if layer is not None:
            factor = TOUCH_HANDLE_FACTOR if event.pointerType == "touch" else 1.0
            radius = transform.HANDLE_RADIUS_PX * self.stage.resolution * factor
            offset = transform.ROTATE_OFFSET_PX * self.stage.resolution
            width, height = self.stage.size()
            handle = transform.handle_at(layer, point, self.stage.aspect_of(layer.id), width, height, radius, offset)
        if handle is None:
            layer = self.stage.layer_at(point)
            self.stage.select(layer.id if layer else None)
        if layer is not None:
            self.stage.canvas.focus()
            self.drag = Drag(layer, point, handle or "move")

    def _move(self, event: Any) -> None:
        if event.pointerId not in self.pointers:
            return
        point = self.pointers[event.pointerId] = self._point(event)
        width, height = self.stage.size()
        if self.pinch is not None:
            first, second = self.pinch.fingers
            values = gestures.pinched(self.pinch.layer, self.pinch.first, (self.pointers[first], self.pointers[second]), width, height)
            if values:
                self.stage.edit(self.pinch.layer.id, values)
            return
        drag = self.drag
        if drag is None:
            return
        if drag.handle == "move":
            values = transform.moved(drag.layer, point[0] - drag.start[0], point[1] - drag.start[1], width, height)
        elif drag.handle == "rotate":
            values = transform.rotated(drag.layer, drag.start, point, width, height)
        else:
            values = transform.resized(drag.layer, drag.start, point, width, height)
        self.stage.edit(drag.layer.id, values)

    def _up(self, event: Any) -> None:
        if self.pointers.pop(event.pointerId, None) is None:
            return
        if self.stage.canvas.hasPointerCapture(event.pointerId):
            self.stage.canvas.releasePointerCapture(event.pointerId)
        if self.pinch is not None:
            # The finger left on the glass carries on moving the layer from where it is now.
            self.pinch = None
            layer = self.stage.selected_layer()
            self.drag = Drag(layer, *self.pointers.values(), "move") if layer is not None and self.pointers else None
            return
        double = self.taps.up(event.timeStamp, (event.clientX, event.clientY))
        self.drag = None
        if double and event.type == "pointerup":
            self.stage.restack(1)

    def _key(self, event: Any) -> None:
        layer = self.stage.selected_layer()
        if layer is None:
            return
        if event.key in transform.ARROWS:
            step = NUDGE_FAST_PX if event.shiftKey else NUDGE_PX
            self.stage.edit(layer.id, transform.nudged(layer, event.key, *self.stage.size(), step))
            event.preventDefault()
        elif event.key == "Escape":
            self.stage.select(None)
        elif event.key in ("Delete", "Backspace") and layer.kind == "sticker":
            self.stage.delete_selected()
