"""The selected layer's outline, handles and tools, drawn over the stage canvas.

An SVG in the canvas's own pixel space (its viewBox follows the canvas size), so the outline
sits on the layer whatever size the page shows the stage at, and a toolbar for what a
pointer cannot say: opacity, forward, backward, delete.
"""

from __future__ import annotations

from collections.abc import Callable

import js

from frontend_py import transform
from frontend_py.dom import h, on
from frontend_py.layout import LayerState
from frontend_py.ui import t, text


class SelectionOverlay:
    """`on_opacity(fraction)`, `on_restack(+1 or -1)` and `on_delete()` act on the selected layer."""

    def __init__(
        self, on_opacity: Callable[[float], None], on_restack: Callable[[int], None], on_delete: Callable[[], None]
    ) -> None:
        self.svg = js.document.createElementNS("http://www.w3.org/2000/svg", "svg")
        self.svg.setAttribute("class", "stage-selection")
        self.svg.setAttribute("aria-hidden", "true")
        self.opacity = h("input", {"id": "layer-opacity", "type": "range", "min": "0", "max": "100", "aria-label": t("layer.opacity")})
        forward = text("button", "layer.forward", {"id": "layer-forward", "class": "button small", "type": "button"})
        backward = text("button", "layer.backward", {"id": "layer-backward", "class": "button small", "type": "button"})
        self.delete = text("button", "layer.delete", {"id": "layer-delete", "class": "button small danger", "type": "button"})
        self.toolbar = h(
            "div",
            {"id": "layer-tools", "class": "layer-tools", "hidden": True},
            h("label", {"class": "opacity"}, text("span", "layer.opacity"), self.opacity),
            forward,
            backward,
            self.delete,
        )
        on(self.opacity, "input", lambda _: on_opacity(int(self.opacity.value) / 100))
        on(forward, "click", lambda _: on_restack(1))
        on(backward, "click", lambda _: on_restack(-1))
        on(self.delete, "click", lambda _: on_delete())

    def resize(self, width: int, height: int) -> None:
        self.svg.setAttribute("viewBox", f"0 0 {width} {height}")

    def show(self, layer: LayerState, aspect: float, width: int, height: int, resolution: float) -> None:
        corners = transform.corners(layer, aspect, width, height)
        spots = transform.handles(layer, aspect, width, height, transform.ROTATE_OFFSET_PX * resolution)
        top_middle = ((corners[0][0] + corners[1][0]) / 2, (corners[0][1] + corners[1][1]) / 2)
        rotate = spots["rotate"]
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
        radius = transform.HANDLE_RADIUS_PX * resolution
        self.svg.innerHTML = "".join([
            f'<polygon points="{outline}" class="outline"/>',
            f'<line x1="{top_middle[0]:.1f}" y1="{top_middle[1]:.1f}" x2="{rotate[0]:.1f}" y2="{rotate[1]:.1f}" class="outline"/>',
            *[f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" class="handle" data-handle="{name}"/>' for name, (x, y) in spots.items()],
        ])
        self.toolbar.hidden = False
        self.opacity.value = str(round(layer.opacity * 100))
        self.delete.hidden = layer.kind != "sticker"

    def hide(self) -> None:
        self.svg.innerHTML = ""
        self.toolbar.hidden = True
