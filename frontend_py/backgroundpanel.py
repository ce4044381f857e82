"""Choosing the stage background: presets, or your own image by drag and drop or file picker.

A dropped file is checked by its content before the browser decodes it (imagecheck.py),
decoded, scaled down to cover the stage, re-encoded as JPEG and handed to the room, which
sends it to every peer. Anything wrong is explained and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import js

from frontend_py import backgrounds, datachannel
from frontend_py.dom import h, js_object, on, spawn
from frontend_py.imagecheck import HEADER_BYTES, ImageRejected, fit_cover, inspect
from frontend_py.layout import PHOTO_SIZES, STAGE
from frontend_py.stage import SIZES, Stage
from frontend_py.ui import set_text, t, text

JPEG_QUALITY = 0.9
SWATCH = (96, 54)


async def read_bytes(blob: Any) -> bytes:
    return bytes(js.Uint8Array.new(await blob.arrayBuffer()).to_py())


class BackgroundPanel:
    """`share(image_id, data)` sends a chosen image to everyone (the room paces it)."""

    def __init__(self, stage: Stage, share: Callable[[str, bytes], Awaitable[None]]) -> None:
        self.stage, self.share = stage, share
        self.file = h("input", {"id": "background-file", "type": "file", "accept": "image/*", "class": "visually-hidden"})
        self.progress = h("progress", {"id": "background-progress", "max": "100", "value": "0", "hidden": True})
        self.error = h("p", {"id": "background-error", "class": "error-text", "role": "alert", "hidden": True})
        self.presets = h("div", {"class": "background-presets"})
        aspect = h("select", {"id": "aspect", "aria-label": t("aspect.label")})
        for value in SIZES:
            aspect.append(h("option", {"value": value}, value))
        on(aspect, "change", lambda _: self._set_aspect(aspect.value))
        self.aspect = aspect
        upload = text("label", "background.upload", {"class": "button small", "for": "background-file"})
        self.element = h(
            "section",
            {"class": "panel backgrounds"},
            text("h2", "background.title"),
            self.presets,
            h("div", {"class": "row"}, upload, self.file, h("label", {"class": "aspect"}, text("span", "aspect.label"), aspect)),
            text("p", "background.drop_hint", {"class": "hint"}),
            self.progress,
            self.error,
        )
        on(self.file, "change", self._picked)
        on(stage.frame, "dragover", self._drag_over)
        on(stage.frame, "dragleave", lambda _: stage.frame.classList.remove("dropping"))
        on(stage.frame, "drop", self._dropped)

    def add_presets(self) -> None:
        """The preset buttons, each with its swatch painted: apart from the panel, which the
        room makes while its links negotiate, so that painting waits until they are up."""
        for name in backgrounds.PRESETS:
            swatch = backgrounds.paint(name, *SWATCH)
            button = h(
                "button",
                {"class": "background-choice", "type": "button", "data-background": name, "title": t(f"background.{name}"), "aria-label": t(f"background.{name}")},
                h("img", {"src": swatch.toDataURL(), "alt": ""}),
            )
            on(button, "click", lambda _, name=name: self._choose(name))
            self.presets.append(button)
        self.sync()

    def _choose(self, background: str) -> None:
        self.stage.edit(STAGE, {"background": background})
        self.sync()

    def _set_aspect(self, aspect: str) -> None:
        self.stage.edit(STAGE, {"aspect": aspect})
        self.stage.changed()
        self.sync()

    def sync(self) -> None:
        """Reflect the shared stage settings in the controls."""
        state = self.stage.layout.stage()
        self.aspect.value = state.aspect
        for button in self.presets.children:
            button.setAttribute("aria-pressed", "true" if button.dataset.background == state.background else "false")

    def show_progress(self, fraction: float | None) -> None:
        self.progress.hidden = fraction is None
        if fraction is not None:
            self.progress.value = str(round(100 * fraction))

    def _drag_over(self, event: Any) -> None:
        event.preventDefault()
        self.stage.frame.classList.add("dropping")

    def _dropped(self, event: Any) -> None:
        event.preventDefault()
        self.stage.frame.classList.remove("dropping")
        files = event.dataTransfer.files
        if files.length:
            spawn(self.take(files.item(0)))

    def _picked(self, _: Any) -> None:
        if self.file.files.length:
            spawn(self.take(self.file.files.item(0)))
        self.file.value = ""

    async def take(self, file: Any) -> None:
        self.error.hidden = True
        try:
            inspect(await read_bytes(file.slice(0, HEADER_BYTES)), int(file.size))
            try:
                bitmap = await js.createImageBitmap(file)
            except Exception as exc:
                raise ImageRejected("background.truncated") from exc
            width, height = fit_cover(int(bitmap.width), int(bitmap.height), *PHOTO_SIZES[self.stage.layout.stage().aspect])
            canvas = js.OffscreenCanvas.new(width, height)
            canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height)
            bitmap.close()
            blob = await canvas.convertToBlob(js_object({"type": "image/jpeg", "quality": JPEG_QUALITY}))
            data = await read_bytes(blob)
        except ImageRejected as rejected:
            set_text(self.error, rejected.key)
            self.error.hidden = False
            return
        image = datachannel.image_id(data)
        self.stage.add_image(image, await js.createImageBitmap(blob))
        await self.share(image, data)
        self._choose(image)
