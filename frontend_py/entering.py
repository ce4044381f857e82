"""From pressing Join (or Enter) to being in the booth: each step said as it happens, and any
failure explained, with the button ready to try again. Nothing may leave the person looking
at "Joining…" for ever."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from frontend_py.dom import h
from frontend_py.pipeline import Pipeline
from frontend_py.stage import StageCanvas
from frontend_py.ui import set_text

Progress = Callable[[str], None]


@dataclass
class Prepared:
    """What the invitation screen made for the booth while the person was there (lobby.Preview);
    None for what it has not made, or what Join finds unusable (the booth makes its own)."""

    pipeline: Pipeline | None = None
    stage_canvas: StageCanvas | None = None


class EnterFailed(Exception):
    """Entering failed in a way a retry may fix; `key` is the message for the person."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def status_line() -> Any:
    """Where the steps and failures are written, under the button."""
    return h("p", {"id": "enter-status", "class": "hint", "role": "status", "aria-live": "polite", "hidden": True})


async def enter_with_feedback(button: Any, status: Any, busy_key: str, retry_key: str, go: Callable[[Progress], Awaitable[None]]) -> None:
    button.disabled = True
    set_text(button, busy_key)
    status.classList.remove("field-error")
    status.setAttribute("role", "status")

    def progress(key: str) -> None:
        status.hidden = False
        set_text(status, key)

    try:
        await go(progress)
    except EnterFailed as failed:
        status.hidden = False
        status.classList.add("field-error")
        status.setAttribute("role", "alert")
        set_text(status, failed.key)
        set_text(button, retry_key)
        button.disabled = False
