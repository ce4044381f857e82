"""The effects bar: background removal on or off, and the face overlay, for our own track."""

from __future__ import annotations

from typing import Any

import js

from frontend_py.dom import h, on
from frontend_py.overlays import CATALOGUE
from frontend_py.pipeline import Pipeline
from frontend_py.ui import t, text
from frontend_py.urls import here

OVERLAY_KEY = "clov.overlay"
REMOVE_BACKGROUND_KEY = "clov.removeBackground"


def effects_bar(pipeline: Pipeline) -> Any:
    removal = h("input", {"id": "background-removal", "type": "checkbox", "role": "switch", "checked": pipeline.remove_background})

    def toggle_removal(_: Any) -> None:
        pipeline.remove_background = bool(removal.checked)
        js.localStorage.setItem(REMOVE_BACKGROUND_KEY, "1" if removal.checked else "0")

    on(removal, "change", toggle_removal)
    picker = h("div", {"id": "overlays", "class": "overlay-picker", "role": "radiogroup", "aria-label": t("overlays.label")})

    def choose(name: str) -> None:
        pipeline.set_overlay(name)
        js.localStorage.setItem(OVERLAY_KEY, name)
        for button in picker.children:
            button.setAttribute("aria-checked", "true" if button.dataset.overlay == name else "false")

    # The face models download when the first overlay is picked; until then the pick waits.
    loading = text("span", "overlays.loading", {"id": "overlays-loading", "class": "effects-status", "role": "status"})

    def show_loading(on: bool) -> None:
        loading.hidden = not on
        picker.setAttribute("aria-busy", "true" if on else "false")

    pipeline.on_faces_loading = show_loading
    show_loading(pipeline.faces_loading)
    chosen = pipeline.overlay.name if pipeline.overlay else ""
    for name in ("", *[overlay.name for overlay in CATALOGUE]):
        key = f"overlay.{name or 'none'}"
        art = h("img", {"src": here().app(f"frontend_py/overlays/{name}.svg"), "alt": ""}) if name else h("span", {"class": "overlay-none"}, "∅")
        button = h(
            "button",
            {
                "class": "overlay-choice",
                "type": "button",
                "role": "radio",
                "data-overlay": name,
                "aria-checked": "true" if name == chosen else "false",
                "title": t(key),
                "aria-label": t(key),
            },
            art,
        )
        on(button, "click", lambda _, name=name: choose(name))
        picker.append(button)
    return h(
        "section",
        {"class": "effects"},
        h("label", {"class": "switch"}, removal, text("span", "background.remove")),
        text("span", "overlays.label", {"class": "effects-label"}),
        picker,
        loading,
    )
