"""The banner that tells a person how friends see them while their background can't be removed,
and asks, when it never can be, whether to show their camera as it is (privacy.py)."""

from __future__ import annotations

from collections.abc import Callable

from frontend_py.dom import h, on
from frontend_py.privacy import Notice
from frontend_py.ui import set_text, text


class PrivacyNotice:
    def __init__(self, answer: Callable[[bool], None]) -> None:
        self.message = h("span", {"id": "privacy-message"})
        show = text("button", "privacy.show", {"id": "show-camera", "class": "button secondary", "type": "button"})
        keep = text("button", "privacy.keep_blurred", {"id": "keep-blurred", "class": "button primary", "type": "button"})
        on(show, "click", lambda _: answer(True))
        on(keep, "click", lambda _: answer(False))
        self.choices = h("span", {"class": "banner-actions", "hidden": True}, keep, show)
        self.element = h("div", {"id": "privacy-notice", "class": "banner info", "role": "status", "hidden": True}, self.message, self.choices)

    def update(self, notice: Notice | None) -> None:
        self.element.hidden = notice is None
        if notice is None:
            return
        set_text(self.message, notice.value)
        self.choices.hidden = notice is not Notice.ASK
        self.element.setAttribute("role", "alert" if notice is Notice.ASK else "status")
        self.element.dataset.notice = notice.name.lower()
