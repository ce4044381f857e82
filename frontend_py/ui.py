"""Shared pieces of the interface: translated text, the header, screens, copy buttons.

Every translated node carries `data-i18n` (and its values in `data-i18n-values`), so
switching the language rewrites the page in place, without rebuilding any screen.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import js

from frontend_py.dom import by_id, h, on, replace_children, stored
from frontend_py.i18n import LANGUAGES, Translator, pick_language
from frontend_py.urls import here

LANGUAGE_KEY = "clov.language"

t = Translator(pick_language(stored(LANGUAGE_KEY), js.navigator.languages.to_py()))


def text(tag: str, key: str, attrs: dict[str, Any] | None = None, **values: object) -> Any:
    """An element whose text is `t(key, **values)`, kept in the current language."""
    element = h(tag, {**(attrs or {}), "data-i18n": key}, t(key, **values))
    if values:
        element.setAttribute("data-i18n-values", json.dumps(values))
    return element


def set_text(element: Any, key: str, **values: object) -> None:
    element.setAttribute("data-i18n", key)
    if values:
        element.setAttribute("data-i18n-values", json.dumps(values))
    else:
        element.removeAttribute("data-i18n-values")
    element.textContent = t(key, **values)


def switch_language(language: str) -> None:
    t.language = language
    js.localStorage.setItem(LANGUAGE_KEY, language)
    js.document.documentElement.lang = language
    for element in js.document.querySelectorAll("[data-i18n]"):
        values = element.getAttribute("data-i18n-values")
        element.textContent = t(element.getAttribute("data-i18n"), **(json.loads(values) if values else {}))
    for element in js.document.querySelectorAll("[data-i18n-placeholder]"):
        element.placeholder = t(element.getAttribute("data-i18n-placeholder"))


def header() -> Any:
    picker = h("select", {"id": "language", "aria-label": t("language")})
    for code, label in LANGUAGES.items():
        picker.append(h("option", {"value": code, "selected": code == t.language}, label))
    on(picker, "change", lambda _: switch_language(picker.value))
    return h(
        "header",
        {"class": "topbar"},
        h("a", {"class": "brand", "href": here().root}, h("span", {"class": "brand-mark", "aria-hidden": "true"}), "CLOV"),
        picker,
    )


def show(screen: str, *children: Any) -> None:
    """Replace the page with one screen; `html[data-screen]` tells tests and CSS which."""
    js.document.documentElement.dataset.screen = screen
    replace_children(by_id("app"), header(), *children)


def show_error(code_key: str) -> None:
    """A full-screen refusal with its message and a way back to the lobby."""
    show(
        "error",
        h(
            "main",
            {"class": "card narrow", "role": "alert"},
            text("h1", "error.title"),
            text("p", code_key, {"id": "error-message", "class": "error-text"}),
            text("a", "back", {"id": "back-to-lobby", "class": "button primary", "href": here().root}),
        ),
    )


def copy_button(get_text: Callable[[], str], element_id: str, label: str = "copy") -> Any:
    button = text("button", label, {"id": element_id, "class": "button secondary", "type": "button"})

    async def copied(writing: Any) -> None:
        await writing
        set_text(button, "copied")
        await asyncio.sleep(1.5)
        set_text(button, label)

    # Called within the click itself: Safari grants the clipboard only to the event's own task.
    on(button, "click", lambda _: copied(js.navigator.clipboard.writeText(get_text())))
    return button
