"""Inside the booth: everyone cut out in a grid, voice, mute, who is speaking, face fun.

Our own camera goes through the sender pipeline (background removal, overlays) and the
packed track it makes is what every peer receives; each tile unpacks a person's alpha.
"""

from __future__ import annotations

from typing import Any

import js

from frontend_py import media
from frontend_py.cutout import CutoutView
from frontend_py.diagnostics import DiagnosticsPanel
from frontend_py.dom import h, mark, on, stored
from frontend_py.i18n import error_key
from frontend_py.mesh import Mesh, Participant
from frontend_py.overlays import CATALOGUE
from frontend_py.pipeline import Pipeline
from frontend_py.signalingclient import JoinRefused, SignalingClient
from frontend_py.ui import copy_button, set_text, show, show_error, t, text
from signaling.protocol import ServerMessage

OVERLAY_KEY = "clov.overlay"
REMOVE_BACKGROUND_KEY = "clov.removeBackground"


class Tile:
    """One person's square: video, name, muted badge, speaking ring."""

    def __init__(self, participant_id: str, name: str, is_self: bool) -> None:
        self.video = h("video", {"autoplay": True, "playsInline": True, "muted": is_self})
        self.name = h("span", {"class": "tile-name"}, name)
        if is_self:
            self.name.append(" (", text("span", "you"), ")")
        self.badge = text("span", "muted", {"class": "tile-muted"})
        self.status = text("span", "connecting", {"class": "tile-status"})
        self.element = h(
            "figure",
            {"class": "tile", "data-peer": participant_id, "data-self": is_self},
            self.video,
            self.status,
            h("figcaption", {}, self.name, self.badge),
        )
        self.detector: media.SpeakingDetector | None = None
        self.cutout: CutoutView | None = None
        self.stream: Any = None
        if is_self:
            self.status.hidden = True
        else:
            on(self.video, "playing", lambda _: mark("first-remote-frame"))

    def set_stream(self, stream: Any, on_speaking: Any) -> None:
        if stream is None or stream is self.stream:
            return
        self.stream = stream
        self.video.srcObject = stream
        self.status.hidden = True
        if self.cutout is None:
            self.cutout = CutoutView(self.video)
            self.video.after(self.cutout.canvas)
        if self.detector is not None:
            self.detector.close()
        if stream.getAudioTracks().length:
            self.detector = media.SpeakingDetector(stream, on_speaking)

    def set_flag(self, name: str, value: bool) -> None:
        if value:
            self.element.setAttribute(f"data-{name}", "1")
        else:
            self.element.removeAttribute(f"data-{name}")

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
        if self.cutout is not None:
            self.cutout.close()
        self.element.remove()


class Room:
    """The room screen and everything alive while it is open."""

    def __init__(self, room: str, token: str, name: str, stream: Any) -> None:
        self.room, self.token, self.name, self.stream = room, token, name, stream
        self.tiles: dict[str, Tile] = {}
        self.grid = h("section", {"id": "grid", "class": "grid", "data-count": "1"})
        self.banner = h("p", {"id": "connection-banner", "class": "banner", "role": "status", "hidden": True})
        self.alone = text("p", "alone", {"id": "alone", "class": "alone"})
        self.mute_button = text("button", "mute", {"id": "mute", "class": "button control", "type": "button", "aria-pressed": "false"})
        self.notice = h("p", {"id": "ai-notice", "class": "banner notice", "role": "status", "hidden": True})
        self.client = SignalingClient(room, token, name, self._on_message, self._on_state)
        self.pipeline: Pipeline | None = None
        self.outgoing: Any = None
        self.mesh: Mesh | None = None
        self.diagnostics: DiagnosticsPanel | None = None

    async def open(self) -> None:
        if self.stream is not None:
            self.pipeline = Pipeline(self.stream, self._on_notice)
            self.pipeline.remove_background = stored(REMOVE_BACKGROUND_KEY) != "0"
            self.pipeline.set_overlay(stored(OVERLAY_KEY))
            params = js.URLSearchParams.new(js.location.search)
            self.outgoing = await self.pipeline.start(params.get("ep") or "", int(params.get("threads") or 0))
            self.diagnostics = DiagnosticsPanel(self.pipeline)
        self.mesh = Mesh(self.outgoing, self.client.send_signal, self._on_change)
        try:
            welcome = await self.client.join()
        except JoinRefused as refused:
            self._stop_media()
            show_error(error_key(refused.code))
            return
        self._render(welcome.peer)

    def _render(self, own_id: str) -> None:
        own = Tile(own_id, self.name, is_self=True)
        own.set_stream(self.outgoing, lambda speaking: own.set_flag("speaking", speaking))
        if self.stream is None:
            own.status.hidden = False
            set_text(own.status, "preview.off")
        self.tiles[own_id] = own
        self.grid.prepend(own.element)
        leave = text("button", "leave", {"id": "leave", "class": "button danger", "type": "button"})
        on(self.mute_button, "click", self._toggle_mute)
        on(leave, "click", self._leave)
        link = f"{js.location.origin}/r/{self.room}#{self.token}"
        show(
            "room",
            h(
                "main",
                {"class": "room"},
                self.banner,
                self.notice,
                self.grid,
                self.alone,
                self._effects() if self.pipeline is not None else None,
                h(
                    "nav",
                    {"class": "controls"},
                    self.mute_button,
                    copy_button(lambda: link, "copy-room-link", "copy.invite"),
                    leave,
                ),
                self.diagnostics.element if self.diagnostics is not None else None,
            ),
        )
        self._layout()

    def _effects(self) -> Any:
        """Background removal switch and the overlay picker, applied to our own track."""
        pipeline = self.pipeline
        removal = h("input", {"id": "background-removal", "type": "checkbox", "role": "switch", "checked": pipeline.remove_background})

        def toggle_removal(_: Any) -> None:
            pipeline.remove_background = bool(removal.checked)
            js.localStorage.setItem(REMOVE_BACKGROUND_KEY, "1" if removal.checked else "0")

        on(removal, "change", toggle_removal)
        picker = h("div", {"id": "overlays", "class": "overlay-picker", "role": "radiogroup"})
        chosen = pipeline.overlay.name if pipeline.overlay else ""
        for name in ("", *[overlay.name for overlay in CATALOGUE]):
            key = f"overlay.{name or 'none'}"
            art = h("img", {"src": f"/frontend_py/overlays/{name}.svg", "alt": ""}) if name else h("span", {"class": "overlay-none"}, "∅")
            button = h(
                "button",
                {"class": "overlay-choice", "type": "button", "role": "radio", "data-overlay": name, "aria-checked": "true" if name == chosen else "false", "title": t(key), "aria-label": t(key)},
                art,
            )
            on(button, "click", lambda _, name=name: self._choose_overlay(picker, name))
            picker.append(button)
        return h(
            "section",
            {"class": "effects"},
            h("label", {"class": "switch"}, removal, text("span", "background.remove")),
            text("span", "overlays.label", {"class": "effects-label"}),
            picker,
        )

    def _choose_overlay(self, picker: Any, name: str) -> None:
        self.pipeline.set_overlay(name)
        js.localStorage.setItem(OVERLAY_KEY, name)
        for button in picker.children:
            button.setAttribute("aria-checked", "true" if button.dataset.overlay == name else "false")

    def _on_notice(self, key: str) -> None:
        set_text(self.notice, key)
        self.notice.hidden = False

    def _stop_media(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
        if self.diagnostics is not None:
            self.diagnostics.close()
        media.stop(self.stream)

    def _on_message(self, message: ServerMessage) -> None:
        self.mesh.handle(message)

    def _on_state(self, state: str, detail: str) -> None:
        if state == "joined":
            self.banner.hidden = True
        elif state == "reconnecting":
            self.banner.hidden = False
            set_text(self.banner, "reconnecting")
        elif state == "failed":
            self.banner.hidden = False
            set_text(self.banner, error_key(detail))

    def _on_change(self, participant_id: str, participant: Participant | None) -> None:
        tile = self.tiles.get(participant_id)
        if participant is None:
            if tile is not None:
                tile.close()
                del self.tiles[participant_id]
            self._layout()
            return
        if tile is None:
            tile = self.tiles[participant_id] = Tile(participant_id, participant.name, is_self=False)
            self.grid.append(tile.element)
            self._layout()
        tile.name.textContent = participant.name
        tile.set_stream(participant.stream, lambda speaking: self.mesh.set_speaking(participant_id, speaking))
        tile.set_flag("muted", participant.muted)
        tile.set_flag("speaking", participant.speaking)
        tile.set_flag("connected", participant.state == "connected")
        tile.element.dataset.state = participant.state

    def _layout(self) -> None:
        self.grid.dataset.count = str(len(self.tiles))
        self.alone.hidden = len(self.tiles) > 1

    def _toggle_mute(self, _: Any) -> None:
        muted = not self.mesh.muted
        self.mesh.set_muted(muted)
        self.mute_button.setAttribute("aria-pressed", "true" if muted else "false")
        set_text(self.mute_button, "unmute" if muted else "mute")
        own = self.tiles.get(self.mesh.own_id)
        if own is not None:
            own.set_flag("muted", muted)

    def _leave(self, _: Any) -> None:
        self.client.close()
        self.mesh.close()
        self._stop_media()
        js.location.assign("/")


async def enter_room(room: str, token: str, name: str, stream: Any) -> None:
    await Room(room, token, name, stream).open()
