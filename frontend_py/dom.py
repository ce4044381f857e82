"""A few helpers to build and update the page from Python through the JS bridge."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import js
from pyodide.ffi import JsNull, create_proxy, to_js

# Proxies handed to the browser as event listeners must outlive this call; they live as
# long as the element that holds them, which the page keeps.
_listeners: list[Any] = []


def nullable(value: Any) -> Any:
    """JavaScript's null arrives as `jsnull`, not None; make it None."""
    return None if isinstance(value, JsNull) else value


def stored(key: str) -> str:
    """A localStorage value, or "" when unset."""
    return nullable(js.localStorage.getItem(key)) or ""


def js_object(value: dict[str, Any]) -> Any:
    """A plain JS object (not a Map) from a Python dict, for browser APIs that take options."""
    return to_js(value, dict_converter=js.Object.fromEntries)


def spawn(awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run a coroutine as a task whose failure reaches the console instead of vanishing."""

    async def guarded() -> Any:
        try:
            return await awaitable
        except Exception:
            js.console.error(traceback.format_exc())
            raise

    return asyncio.ensure_future(guarded())


def on(target: Any, event: str, handler: Callable[[Any], Any]) -> None:
    """Listen for `event`; a coroutine function runs as a task."""

    def call(event_object: Any) -> None:
        result = handler(event_object)
        if asyncio.iscoroutine(result):
            spawn(result)

    proxy = create_proxy(call)
    _listeners.append(proxy)
    target.addEventListener(event, proxy)


def h(tag: str, attrs: dict[str, Any] | None = None, *children: Any) -> Any:
    """Create an element: `h("button", {"class": "primary", "onclick": f}, "Go")`."""
    element = js.document.createElement(tag)
    for name, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        if name.startswith("on"):
            on(element, name[2:], value)
        elif name in ("text", "textContent"):
            element.textContent = value
        elif name in ("value", "muted", "autoplay", "playsInline", "checked", "disabled", "readOnly"):
            setattr(element, name, value)
        else:
            element.setAttribute(name, "" if value is True else str(value))
    for child in children:
        if child is None:
            continue
        element.append(child if not isinstance(child, (str, int, float)) else str(child))
    return element


def by_id(element_id: str) -> Any:
    return js.document.getElementById(element_id)


def replace_children(parent: Any, *children: Any) -> None:
    parent.replaceChildren(*[c for c in children if c is not None])


def mark(name: str) -> None:
    """A performance mark (`clov:NAME`) the first time it happens; bench/join.py reads them."""
    if not js.performance.getEntriesByName(f"clov:{name}").length:
        js.performance.mark(f"clov:{name}")
