"""A background generated from a prompt, and "suggest a prompt", in the background panel.

The server makes the pictures (signaling/backgroundapi.py): with an AI provider where the
operator set one up, otherwise as patterns painted from the prompt's words, and it says
which, so the panel labels them honestly. A picked candidate goes the way of an uploaded
image (BackgroundPanel.take): checked, scaled to the photo size, sent to everyone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py.dom import h, js_object, on, spawn
from frontend_py.ui import set_text, t, text
from frontend_py.urls import here

STYLES = ("photo", "watercolour", "illustration", "3d", "pixel-art", "minimal")
CANDIDATES = 3
MAX_PROMPT = 400
HINT_CHARS = 40
# The server's error codes (docs/protocol.md) and what the person is told.
ERRORS = {
    "moderation": "ai.moderation",
    "bad_prompt": "ai.bad_prompt",
    "provider_auth": "ai.unavailable",
    "busy": "ai.busy",
    "rate_limited": "ai.busy",
    "unauthorized": "ai.unauthorized",
}


def prompt_problem(prompt: str) -> str | None:
    """The text key of what is wrong with a prompt, or None; the server checks the same."""
    cleaned = prompt.strip()
    if not cleaned:
        return "ai.empty"
    if len(cleaned) > MAX_PROMPT or any(unicodedata.category(char) == "Cc" for char in cleaned):
        return "ai.bad_prompt"
    return None


class Refused(Exception):
    def __init__(self, key: str, retry_after: str = "") -> None:
        super().__init__(key)
        self.key, self.retry_after = key, retry_after


class AIBackground:
    """`take(blob)` makes a picked picture the booth's background; `aspect()` is the stage's."""

    def __init__(self, room: str, token: str, take: Callable[[Any], Awaitable[None]], aspect: Callable[[], str]) -> None:
        self.room, self.token, self.take, self.aspect = room, token, take, aspect
        self.style = "photo"
        self.running: asyncio.Future[Any] | None = None
        self.abort: Any = None
        self.urls: list[str] = []
        self.prompt = h(
            "textarea",
            {"id": "ai-prompt", "rows": "2", "maxlength": str(MAX_PROMPT), "placeholder": t("ai.placeholder"),
             "data-i18n-placeholder": "ai.placeholder", "aria-label": t("ai.prompt")},
        )
        self.styles = h("div", {"id": "ai-styles", "class": "style-chips", "role": "radiogroup", "aria-label": t("ai.style")})
        for style in STYLES:
            chip = text("button", f"ai.style.{style}", {"class": "style-chip", "type": "button", "role": "radio", "data-style": style,
                                                       "aria-checked": "true" if style == self.style else "false"})
            on(chip, "click", lambda _, style=style: self._choose_style(style))
            self.styles.append(chip)
        self.suggest_button = text("button", "ai.suggest", {"id": "suggest-prompt", "class": "button secondary small", "type": "button"})
        self.generate_button = text("button", "ai.generate", {"id": "generate", "class": "button primary small", "type": "button"})
        self.suggest_note = h("p", {"id": "ai-suggest-note", "class": "hint", "hidden": True})
        self.elapsed = h("span", {"id": "ai-elapsed"})
        cancel = text("button", "ai.cancel", {"id": "ai-cancel", "class": "button secondary small", "type": "button"})
        self.progress = h("div", {"id": "ai-progress", "class": "ai-progress", "role": "status", "hidden": True}, self.elapsed, cancel)
        self.error = h("p", {"id": "ai-error", "class": "error-text", "role": "alert", "hidden": True})
        self.source = h("p", {"id": "ai-source", "class": "hint", "hidden": True})
        self.candidates = h("div", {"id": "ai-candidates", "class": "ai-candidates"})
        self.element = h(
            "div",
            {"class": "ai-background"},
            text("h3", "ai.title"),
            self.prompt,
            self.styles,
            h("div", {"class": "row"}, self.suggest_button, self.generate_button),
            self.suggest_note,
            self.progress,
            self.error,
            self.source,
            self.candidates,
        )
        on(self.generate_button, "click", lambda _: self._start(self._generate()))
        on(self.suggest_button, "click", lambda _: self._start(self._suggest()))
        on(cancel, "click", lambda _: self._cancel())

    def _choose_style(self, style: str) -> None:
        self.style = style
        for chip in self.styles.children:
            chip.setAttribute("aria-checked", "true" if chip.dataset.style == style else "false")

    def _start(self, work: Awaitable[None]) -> None:
        if self.running is not None and not self.running.done():
            return
        self.running = spawn(self._guarded(work))

    async def _guarded(self, work: Awaitable[None]) -> None:
        self.error.hidden = True
        self.generate_button.disabled = self.suggest_button.disabled = True
        try:
            await work
        except Refused as refused:
            set_text(self.error, refused.key, seconds=refused.retry_after or "30")
            self.error.hidden = False
        finally:
            self.generate_button.disabled = self.suggest_button.disabled = False
            self.progress.hidden = True

    def _cancel(self) -> None:
        if self.abort is not None:
            self.abort.abort()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer, or Refused with what to tell the person."""
        self.abort = js.AbortController.new()
        try:
            response = await js.fetch(
                here().api(f"rooms/{self.room}/{path}"),
                js_object({
                    "method": "POST",
                    "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
                    "body": json.dumps(body),
                    "signal": self.abort.signal,
                }),
            )
            answer = json.loads(await response.text())
        except Exception as exc:
            if self.abort.signal.aborted:
                raise asyncio.CancelledError from exc
            raise Refused("ai.network") from exc
        if not response.ok:
            code = answer.get("error", "") if isinstance(answer, dict) else ""
            raise Refused(ERRORS.get(code, "ai.failed"), response.headers.get("Retry-After") or "")
        return answer if isinstance(answer, dict) else {}

    async def _generate(self) -> None:
        problem = prompt_problem(self.prompt.value)
        if problem is not None:
            raise Refused(problem)
        self.progress.hidden = False
        ticking = spawn(self._tick())
        try:
            answer = await self._post("backgrounds", {
                "prompt": self.prompt.value.strip(), "style": self.style, "aspect": self.aspect(), "n": CANDIDATES,
            })
        except asyncio.CancelledError:
            return
        finally:
            ticking.cancel()
        self._show(answer)

    async def _tick(self) -> None:
        started = js.performance.now()
        while True:
            set_text(self.elapsed, "ai.generating", seconds=round((js.performance.now() - started) / 1000))
            await asyncio.sleep(1)

    def _show(self, answer: dict[str, Any]) -> None:
        for url in self.urls:
            js.URL.revokeObjectURL(url)
        self.urls = []
        self.candidates.replaceChildren()
        made_by_ai = answer.get("ai") is True
        set_text(self.source, "ai.by_ai" if made_by_ai else "ai.fallback" if answer.get("fallback") else "ai.pattern")
        self.source.hidden = False
        for index, picture in enumerate(answer.get("pictures", [])[:CANDIDATES]):
            data = base64.b64decode(str(picture.get("data", "")), validate=False)
            blob = js.Blob.new(to_js([to_js(data)]), js_object({"type": str(picture.get("mime", "image/jpeg"))}))
            url = js.URL.createObjectURL(blob)
            self.urls.append(url)
            button = h(
                "button",
                {"class": "ai-candidate", "type": "button", "data-ai": made_by_ai, "aria-label": t("ai.pick", n=index + 1)},
                h("img", {"src": url, "alt": ""}),
                text("span", "ai.badge", {"class": "ai-badge"}) if made_by_ai else None,
            )
            on(button, "click", lambda _, blob=blob, button=button: self._pick(blob, button))
            self.candidates.append(button)

    async def _pick(self, blob: Any, button: Any) -> None:
        for other in self.candidates.children:
            other.setAttribute("aria-pressed", "true" if other.isSameNode(button) else "false")
        await self.take(blob)

    async def _suggest(self) -> None:
        answer = await self._post("prompt-suggestions", {"language": t.language, "hint": self.prompt.value.strip()[:HINT_CHARS]})
        prompts = [prompt for prompt in answer.get("prompts", []) if isinstance(prompt, str) and prompt_problem(prompt) is None]
        if not prompts:
            raise Refused("ai.failed")
        self.prompt.value = prompts[0]
        set_text(self.suggest_note, "ai.suggested_by_ai" if answer.get("ai") is True else "ai.example")
        self.suggest_note.hidden = False
