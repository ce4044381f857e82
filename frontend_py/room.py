"""Inside the booth: everyone's video in a grid, voice, mute, who is speaking.

The shared stage replaces the grid in a later step; the mesh and the controls stay.
"""

from __future__ import annotations

from typing import Any

import js

from frontend_py import media
from frontend_py.dom import h, mark, on
from frontend_py.i18n import error_key
from frontend_py.mesh import Mesh, Participant
from frontend_py.signalingclient import JoinRefused, SignalingClient
from frontend_py.ui import copy_button, set_text, show, show_error, text
from signaling.protocol import ServerMessage


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
        self.client = SignalingClient(room, token, name, self._on_message, self._on_state)
        self.mesh = Mesh(stream, self.client.send_signal, self._on_change)

    async def open(self) -> None:
        try:
            welcome = await self.client.join()
        except JoinRefused as refused:
            media.stop(self.stream)
            show_error(error_key(refused.code))
            return
        self._render(welcome.peer)

    def _render(self, own_id: str) -> None:
        own = Tile(own_id, self.name, is_self=True)
        own.set_stream(self.stream, lambda speaking: own.set_flag("speaking", speaking))
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
                self.grid,
                self.alone,
                h(
                    "nav",
                    {"class": "controls"},
                    self.mute_button,
                    copy_button(lambda: link, "copy-room-link", "copy.invite"),
                    leave,
                ),
            ),
        )
        self._layout()

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
        media.stop(self.stream)
        js.location.assign("/")


async def enter_room(room: str, token: str, name: str, stream: Any) -> None:
    await Room(room, token, name, stream).open()
