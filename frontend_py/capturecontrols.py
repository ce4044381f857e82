"""The shutter's controls and what everyone sees of a countdown: the number, the flash, the sound.

The shutter sits in the room's bottom bar with its timer and mode; Space presses it when no
text field has focus. The countdown is shown over the stage and announced to screen readers
(a live region); the flash is a white fade, left out under `prefers-reduced-motion`; the
shutter sound is made with WebAudio (no file to fetch) and can be muted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import js

from frontend_py import photostrip
from frontend_py.dom import h, on, stored
from frontend_py.ui import set_text, t, text

SOUND_KEY = "clov.shutter-sound"
COUNTDOWN_KEY = "clov.countdown"
TYPING = frozenset({"INPUT", "TEXTAREA", "SELECT", "BUTTON"})
SAVED_NOTICE_S = 2.5


class CaptureControls:
    """`press(countdown_s, shots)` is called when the person presses the shutter."""

    def __init__(self, press: Callable[[int, int], None]) -> None:
        self.press = press
        self.shutter = h(
            "button",
            {"id": "shutter", "class": "button shutter", "type": "button", "aria-label": t("capture.shutter"), "title": t("capture.shutter_hint")},
            h("span", {"class": "shutter-dot", "aria-hidden": "true"}),
        )
        self.mode = h("select", {"id": "capture-mode", "aria-label": t("capture.mode")})
        for value, key in (("1", "capture.mode.photo"), ("4", "capture.mode.strip")):
            self.mode.append(text("option", key, {"value": value}))
        self.timer = h("select", {"id": "countdown-seconds", "aria-label": t("capture.timer")})
        for seconds in (3, 5, 10):
            self.timer.append(text("option", "capture.seconds", {"value": str(seconds)}, n=seconds))
        self.timer.value = stored(COUNTDOWN_KEY) or "3"
        self.sound = h("input", {"id": "shutter-sound", "type": "checkbox", "checked": stored(SOUND_KEY) != "0"})
        self.settings = h(
            "div",
            {"class": "capture-settings"},
            self.mode,
            self.timer,
            h("label", {"class": "sound-toggle"}, self.sound, text("span", "capture.sound")),
        )
        self.bar = h("div", {"class": "capture-bar"}, self.settings, self.shutter)
        self.number = h("span", {"id": "countdown-number", "class": "countdown-number", "aria-hidden": "true"})
        self.shot_of = h("span", {"id": "series-progress", "class": "series-progress", "hidden": True})
        self.announcer = h("p", {"id": "countdown-announcer", "class": "visually-hidden", "aria-live": "assertive", "role": "status"})
        self.saved = text("p", "capture.saved", {"id": "capture-saved", "class": "capture-saved", "hidden": True})
        self.flash_layer = h("div", {"class": "flash", "aria-hidden": "true"})
        self.overlay = h("div", {"class": "capture-overlay"}, self.flash_layer, self.number, self.shot_of, self.saved, self.announcer)
        self.strip_kind = h("select", {"id": "strip-kind", "aria-label": t("strip.kind")})
        for kind in photostrip.FORMATS:
            self.strip_kind.append(text("option", f"strip.kind.{kind}", {"value": kind}))
        self.strip_frame = h("select", {"id": "strip-frame", "aria-label": t("strip.frame")})
        for frame in photostrip.FRAMES:
            self.strip_frame.append(text("option", f"strip.frame.{frame}", {"value": frame}))
        self.caption = h("input", {"id": "strip-caption", "type": "text", "maxlength": str(photostrip.CAPTION_MAX), "data-i18n-placeholder": "strip.caption_placeholder", "placeholder": t("strip.caption_placeholder")})
        self.strip_panel = h(
            "section",
            {"id": "strip-options", "class": "panel", "hidden": True},
            text("h2", "strip.title"),
            h("label", {"class": "field"}, text("span", "strip.kind"), self.strip_kind),
            h("label", {"class": "field"}, text("span", "strip.frame"), self.strip_frame),
            h("label", {"class": "field"}, text("span", "strip.caption"), self.caption),
        )
        self.audio: Any = None
        self.noise: Any = None
        self._saved_task: asyncio.Future[Any] | None = None
        on(self.shutter, "click", lambda _: self._pressed())
        on(self.mode, "change", lambda _: self._mode_changed())
        on(self.timer, "change", lambda _: js.localStorage.setItem(COUNTDOWN_KEY, self.timer.value))
        on(self.sound, "change", lambda _: js.localStorage.setItem(SOUND_KEY, "1" if self.sound.checked else "0"))
        on(js.document, "keydown", self._key)

    def _pressed(self) -> None:
        self.press(int(self.timer.value), int(self.mode.value))

    def _mode_changed(self) -> None:
        self.strip_panel.hidden = self.mode.value != "4"

    def _key(self, event: Any) -> None:
        if event.code != "Space" or event.repeat or js.document.documentElement.dataset.screen != "room":
            return
        target = event.target
        if str(getattr(target, "tagName", "")) in TYPING or getattr(target, "isContentEditable", False):
            return
        event.preventDefault()
        if not self.shutter.disabled:
            self._pressed()

    def strip_options(self) -> tuple[str, str, str]:
        return str(self.strip_kind.value), str(self.strip_frame.value), str(self.caption.value)

    def busy(self, running: bool) -> None:
        self.shutter.disabled = running
        self.shutter.classList.toggle("running", running)
        if not running:
            self.stop_countdown()

    def series(self, index: int, count: int) -> None:
        self.shot_of.hidden = count == 1
        if count > 1:
            set_text(self.shot_of, "capture.shot_of", i=index + 1, n=count)

    def show_countdown(self, seconds: int) -> None:
        self.number.textContent = str(seconds)
        self.number.classList.remove("tick")
        _ = self.number.offsetWidth  # restart the tick animation
        self.number.classList.add("tick")
        set_text(self.announcer, "capture.announce", n=seconds)

    def stop_countdown(self) -> None:
        self.number.textContent = ""
        self.shot_of.hidden = True

    def flash(self) -> None:
        self.number.textContent = ""
        set_text(self.announcer, "capture.cheese")
        self.flash_layer.classList.remove("on")
        _ = self.flash_layer.offsetWidth
        self.flash_layer.classList.add("on")
        if self.sound.checked:
            self._click()

    def taken(self) -> None:
        if self._saved_task is not None:
            self._saved_task.cancel()
        self._saved_task = asyncio.ensure_future(self._show_saved())

    async def _show_saved(self) -> None:
        self.saved.hidden = False
        await asyncio.sleep(SAVED_NOTICE_S)
        self.saved.hidden = True

    def _click(self) -> None:
        """A shutter's two clacks: short bursts of band-passed noise."""
        if self.audio is None:
            # Made at the first flash: the page has had the person's click on Join by then,
            # so the autoplay policy lets it sound.
            self.audio = js.AudioContext.new()
            rate = int(self.audio.sampleRate)
            self.noise = self.audio.createBuffer(1, rate // 10, rate)
            self.noise.getChannelData(0).set(js.Float32Array.new([random.uniform(-1.0, 1.0) for _ in range(rate // 10)]))
        audio = self.audio
        for delay, level in ((0.0, 0.8), (0.07, 0.5)):
            source = audio.createBufferSource()
            source.buffer = self.noise
            band = audio.createBiquadFilter()
            band.type = "bandpass"
            band.frequency.value = 2400
            gain = audio.createGain()
            start = audio.currentTime + delay
            gain.gain.setValueAtTime(level, start)
            gain.gain.exponentialRampToValueAtTime(0.001, start + 0.06)
            source.connect(band)
            band.connect(gain)
            gain.connect(audio.destination)
            source.start(start)
            source.stop(start + 0.08)

