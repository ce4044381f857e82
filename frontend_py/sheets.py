"""The room's panels: a side column on a desktop, bottom sheets over the stage on a phone.

On a phone-sized screen (narrower than 900 CSS pixels, or a phone held sideways) the stage
fills the screen and a bar at the bottom keeps the shutter within the thumb's reach; each
panel (people, background, stickers, gallery, invite, devices) opens alone as a sheet over
the stage and closes with its ×, a tap on the dimmed stage or Escape. CSS does most of the
difference; what must live elsewhere on a phone (the effects from the desktop's bottom bar,
the shutter's settings, Leave) is moved between its two homes whenever the screen crosses
the breakpoint, so nothing is built twice and no choice is lost on a rotation.
"""

from __future__ import annotations

from typing import Any

import js

from frontend_py.dom import h, on
from frontend_py.icons import icon
from frontend_py.ui import t, text

PHONE_QUERY = "(max-width: 899.98px), (max-height: 520px)"
PORTRAIT_PHONE_QUERY = "(orientation: portrait) and (max-width: 899.98px)"


class Sheets:
    def __init__(self) -> None:
        self.phone = js.matchMedia(PHONE_QUERY)
        self.sheets: dict[str, Any] = {}
        self.openers: dict[str, list[Any]] = {}
        self.moves: list[tuple[Any, Any, Any]] = []  # (element, its desktop spot, its phone slot)
        self.scrim = h("div", {"class": "sheet-scrim", "hidden": True})
        self.current = ""
        on(self.scrim, "click", lambda _: self.close())
        on(self.phone, "change", lambda _: self.place())
        on(js.document, "keydown", self._key)

    def adopt(self, name: str, panel: Any) -> Any:
        """Make a panel a sheet: on a phone it shows only while open, with a close button."""
        close = h("button", {"class": "sheet-close", "type": "button", "aria-label": t("sheet.close")}, icon("close"))
        on(close, "click", lambda _: self.close())
        panel.classList.add("sheet")
        panel.dataset.sheet = name
        panel.id = panel.id or f"sheet-{name}"
        panel.prepend(close)
        self.sheets[name] = panel
        for button in self.openers.get(name, []):
            button.setAttribute("aria-controls", panel.id)
        return panel

    def opener(self, name: str, label_key: str, icon_name: str, element_id: str) -> Any:
        """A button that opens (or closes again) one sheet."""
        button = h(
            "button",
            {"id": element_id, "class": "bar-button", "type": "button", "aria-expanded": "false"},
            icon(icon_name),
            text("span", label_key, {"class": "bar-label"}),
        )
        on(button, "click", lambda _: self.toggle(name))
        if name in self.sheets:
            button.setAttribute("aria-controls", self.sheets[name].id)
        self.openers.setdefault(name, []).append(button)
        return button

    def movable(self, element: Any) -> Any:
        """A slot where `element` goes on a phone; it stays where it is now on a desktop."""
        spot = js.document.createComment("")
        element.before(spot)
        slot = h("div", {"class": "sheet-slot"})
        self.moves.append((element, spot, slot))
        return slot

    def place(self) -> None:
        """Put every movable element in its home for the screen as it is now."""
        phone = bool(self.phone.matches)
        for element, spot, slot in self.moves:
            if phone and element.parentNode is not slot:
                slot.append(element)
            elif not phone and element.previousSibling is not spot:
                spot.after(element)
        if not phone:
            self.close()

    def toggle(self, name: str) -> None:
        if self.current == name:
            self.close()
        else:
            self.open(name)

    def open(self, name: str) -> None:
        self.close()
        self.current = name
        sheet = self.sheets[name]
        sheet.classList.add("open")
        self.scrim.hidden = False
        for button in self.openers.get(name, []):
            button.setAttribute("aria-expanded", "true")
        if self.phone.matches:
            sheet.scrollTop = 0
            sheet.querySelector(".sheet-close").focus()

    def close(self) -> None:
        if not self.current:
            return
        self.sheets[self.current].classList.remove("open")
        for button in self.openers.get(self.current, []):
            button.setAttribute("aria-expanded", "false")
        self.current = ""
        self.scrim.hidden = True

    def _key(self, event: Any) -> None:
        if event.key == "Escape" and self.current and js.document.documentElement.dataset.screen == "room":
            self.close()
