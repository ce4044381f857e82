"""Bringing friends in from inside the booth: the invite link to copy or share, and as a QR
code, so someone at a desktop can bring their phone in with one scan."""

from __future__ import annotations

from typing import Any

import js
from pyodide.ffi import JsException

from frontend_py.dom import h, js_object, on
from frontend_py.invitecode import qr_data_uri
from frontend_py.ui import copy_button, t, text


class InvitePanel:
    def __init__(self, link: str) -> None:
        self.link = link
        field = h("input", {"id": "room-link", "type": "text", "readonly": True, "value": link, "aria-label": t("invite.label")})
        on(field, "focus", lambda _: field.select())
        share = text("button", "invite.share", {"id": "share-invite", "class": "button secondary", "type": "button"})
        share.hidden = not hasattr(js.navigator, "share")
        on(share, "click", self._share)
        self.code = h("img", {"id": "invite-qr", "class": "invite-qr"})
        self.element = h(
            "section",
            {"class": "panel invite-panel"},
            text("h2", "invite.title"),
            self.code,
            text("p", "invite.scan", {"class": "hint"}),
            h("div", {"class": "invite-row"}, field, copy_button(lambda: link, "copy-invite-link")),
            share,
        )

    def draw_code(self) -> None:
        """The QR code: apart from the panel, as encoding it takes a tenth of a second of the
        page's thread on a small machine (the room draws it once its links are up)."""
        self.code.src = qr_data_uri(self.link)
        self.code.alt = t("invite.qr_alt")  # not before: an image without a picture shows its alt text

    def _share(self, _: Any) -> Any:
        # Asked within the click itself: Safari shares only from the event's own task.
        return self._shared(js.navigator.share(js_object({"title": "CLOV", "url": self.link})))

    async def _shared(self, sharing: Any) -> None:
        try:
            await sharing
        except JsException as exc:  # the person closed the share sheet, or the browser refused
            js.console.info(f"share: {exc}")
