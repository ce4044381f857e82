"""Inside the booth: the shared stage, who is here, voice, mute, face fun, backgrounds.

Our own camera goes through the sender pipeline (background removal, overlays) and the
packed track it makes is what every peer receives. The stage draws everyone from those
tracks; the roster beside it shows who is here, muted or speaking.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_once_callable

from frontend_py import datachannel, media
from frontend_py.aibackground import AIBackground
from frontend_py.backgroundpanel import BackgroundPanel
from frontend_py.bandwidth import video_encoding
from frontend_py.capture import Capture
from frontend_py.clips import Clips
from frontend_py.cutout import CutoutView
from frontend_py.devicechoice import DeviceChoice, switch_camera, switch_microphone
from frontend_py.diagnostics import DiagnosticsPanel, diagnostic_number, diagnostic_text, publish_hook
from frontend_py.dom import h, mark, on, spawn, stored
from frontend_py.effects import OVERLAY_KEY, REMOVE_BACKGROUND_KEY, effects_bar
from frontend_py.entering import EnterFailed, Prepared, Progress
from frontend_py.gallery import Gallery
from frontend_py.i18n import error_key
from frontend_py.icons import icon
from frontend_py.invitepanel import InvitePanel
from frontend_py.layout import STAGE, Layout
from frontend_py.mesh import Mesh, Participant
from frontend_py.overlays import CATALOGUE
from frontend_py.pipeline import Pipeline
from frontend_py.privacynotice import PrivacyNotice
from frontend_py.sheets import PORTRAIT_PHONE_QUERY, Sheets
from frontend_py.signalingclient import JoinRefused, SignalingClient
from frontend_py.sourcevideo import CameraStalled
from frontend_py.stage import Stage
from frontend_py.stagesync import StageSync
from frontend_py.ui import copy_button, set_text, show, show_error, t, text
from frontend_py.urls import here
from frontend_py.webgl import WebGLUnavailable
from signaling.protocol import ServerMessage, Welcome

CAPTURE_MESSAGES = (
    datachannel.ClockProbe, datachannel.Shutter, datachannel.StillHeader, datachannel.PhotoDecision,
    datachannel.Recording, datachannel.ClipHeader,
)
# The models load once the links made at the welcome are up and the first frames have crossed
# them both ways, or this long after the welcome at the latest: loading onnxruntime holds the
# page for a second or more on a small machine, which would hold back by as much every step of
# those links' negotiation, the first frame each friend shows here, and the one we send them.
MODELS_AT_LATEST_S = 4.0
# The stage is built after the welcome made the links; what a link reports before it stands
# (a channel opened, a peer's message) waits for it, this many at most: the links need round
# trips through the server to open channels, so this stays empty but on a page stalled for long.
BEFORE_STAGE_LIMIT = 256
# The pause between the parts of the stage and room screen: a timer, not asyncio.sleep(0),
# which Pyodide runs as a posted message; with a chain of those the signaling socket's
# messages (the others' offer, their candidates) arrived only once the whole chain was done
# (bench/join.py --trace), a second after they were sent. A timer leaves the thread idle a
# moment, and the socket's messages are taken then.
GIVE_WAY_S = 0.005
# Refusals that may pass: the person is told and may try again from where they are.
RETRYABLE = frozenset({"unavailable", "rate_limited", "bad_message"})


class Tile:
    """One person in the roster: a live face thumbnail, name, muted badge, speaking ring.

    Its video element also plays the person's voice and feeds the stage."""

    def __init__(self, participant_id: str, name: str, is_self: bool, on_playing: Callable[[], None] = lambda: None) -> None:
        self.video = h("video", {"autoplay": True, "playsInline": True, "muted": is_self})
        self.playing = False
        self.name = h("span", {"class": "tile-name"}, name)
        if is_self:
            self.name.append(" (", text("span", "you"), ")")
        self.badge = text("span", "muted", {"class": "tile-muted"})
        self.status = text("span", "connecting", {"class": "tile-status"})
        self.element = h(
            "figure",
            {"class": "tile", "data-peer": participant_id, "data-self": is_self},
            h("div", {"class": "tile-face"}, self.video),
            h("figcaption", {}, self.name, self.badge, self.status),
        )
        self.detector: media.SpeakingDetector | None = None
        self.stream: Any = None
        if is_self:
            self.status.hidden = True
        else:
            on(self.video, "playing", lambda _: self._first_frame(on_playing))

    def _first_frame(self, on_playing: Callable[[], None]) -> None:
        if not self.playing:
            self.playing = True
            mark("first-remote-frame")
            on_playing()

    def set_stream(self, stream: Any, on_speaking: Any) -> bool:
        """True when the stream is new."""
        if stream is None or stream is self.stream:
            return False
        self.stream = stream
        self.video.srcObject = stream
        self.status.hidden = True
        if self.detector is not None:
            self.detector.close()
        if stream.getAudioTracks().length:
            self.detector = media.SpeakingDetector(stream, on_speaking)
        return True

    def set_flag(self, name: str, value: bool) -> None:
        if value:
            self.element.setAttribute(f"data-{name}", "1")
        else:
            self.element.removeAttribute(f"data-{name}")

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
        self.element.remove()


class StickerTray:
    """The stickers panel; its buttons come with `add_stickers`."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.tray = h("div", {"id": "stickers", "class": "sticker-tray"})
        self.element = h("section", {"class": "panel"}, text("h2", "stickers.title"), self.tray)

    def add_stickers(self) -> None:
        for overlay in CATALOGUE:
            button = h(
                "button",
                {"class": "sticker-choice", "type": "button", "data-sticker": overlay.name, "title": t(f"overlay.{overlay.name}"), "aria-label": t(f"overlay.{overlay.name}")},
                h("img", {"src": here().app(f"frontend_py/overlays/{overlay.name}.svg"), "alt": ""}),
            )
            on(button, "click", lambda _, name=overlay.name: self.stage.add_sticker(name))
            self.tray.append(button)


class Room:
    """The room screen and everything alive while it is open."""

    def __init__(self, room: str, token: str, name: str, stream: Any, prepared: Prepared) -> None:
        """`prepared`: what was made before (lobby.Preview), a pipeline for `stream` and the
        stage's canvas; the room makes what is missing."""
        self.room, self.token, self.name, self.stream = room, token, name, stream
        self.tiles: dict[str, Tile] = {}
        self.roster = h("section", {"id": "roster", "class": "roster", "aria-label": t("roster.label")})
        self.banner = h("p", {"id": "connection-banner", "class": "banner", "role": "status", "hidden": True})
        self.alone = text("p", "alone", {"id": "alone", "class": "alone"})
        self.mute_label = text("span", "mute", {"class": "bar-label"})
        self.mute_icon = icon("mic")
        self.mute_button = h("button", {"id": "mute", "class": "button control", "type": "button", "aria-pressed": "false"}, self.mute_icon, self.mute_label)
        self.sheets = Sheets()
        self.notice = h("p", {"id": "ai-notice", "class": "banner info", "role": "status", "hidden": True})
        self.privacy = PrivacyNotice(lambda agreed: self.pipeline.show_unmasked(agreed))
        self.client = SignalingClient(room, token, name, self._on_message, self._on_state)
        self.pipeline = prepared.pipeline
        self.stage_canvas = prepared.stage_canvas
        self.outgoing: Any = None
        self.mesh: Mesh | None = None
        self.diagnostics: DiagnosticsPanel | None = None
        self.stage: Stage | None = None
        self.sync: StageSync | None = None
        self.backgrounds: BackgroundPanel | None = None
        self.gallery = Gallery(room)
        self.capture: Capture | None = None
        self.clips: Clips | None = None
        self.devices: DeviceChoice | None = None
        self._before_stage: list[tuple[str, Callable[[], None]]] = []
        self._models_asked = False
        self._later: list[Callable[[], None]] = []  # the parts of the screen made once the links are up
        self._shown = asyncio.Event()  # the room screen is up (its parts to make later are known)

    async def open(self, progress: Progress) -> None:
        """Raises EnterFailed for what a retry may fix (its resources released, the camera
        kept for the retry); a refusal from the server ends on its error screen."""
        try:
            await self._open(progress)
        except EnterFailed:
            self._abandon()
            raise
        except Exception as exc:
            js.console.error(f"entering the booth: {traceback.format_exc()}")
            self._abandon()
            raise EnterFailed("enter.graphics" if isinstance(exc, WebGLUnavailable) else "enter.failed") from exc

    async def _open(self, progress: Progress) -> None:
        if self.stream is not None:
            if self.pipeline is None:
                self.pipeline = Pipeline(self.stream)
            self.pipeline.on_notice, self.pipeline.on_privacy = self._on_notice, self.privacy.update
            self.pipeline.remove_background = stored(REMOVE_BACKGROUND_KEY) != "0"
            self.pipeline.set_overlay(stored(OVERLAY_KEY))
            try:
                self.outgoing = await self.pipeline.start()
            except CameraStalled:
                raise EnterFailed("enter.camera_stalled") from None
            self.diagnostics = DiagnosticsPanel(self.pipeline)
        progress("enter.connecting")
        self.mesh = Mesh(self.outgoing, self.client.send_signal, self._on_change, self._on_peer_message, self._on_channel_open)
        self.mesh.bitrate_cap = diagnostic_number("max-video-bps")
        try:
            welcome = await self.client.join()
        except JoinRefused as refused:
            if refused.code in RETRYABLE:
                raise EnterFailed(error_key(refused.code)) from None
            self._stop_media()
            show_error(error_key(refused.code))
            return
        await self._start_stage(welcome)
        await self._render(welcome.peer)

    def _abandon(self) -> None:
        """After a failed entry: everything but the camera, which the retry uses again."""
        self.client.close()
        if self.mesh is not None:
            self.mesh.close()
        if self.sync is not None:
            self.sync.close()
        if self.capture is not None:
            self.capture.close()
        if self.clips is not None:
            self.clips.close()
        if self.devices is not None:
            self.devices.close()
        self._stop_pipeline()

    async def _start_stage(self, welcome: Welcome) -> None:
        """The stage and what works on it, built once the welcome has made the links to the
        others. Building takes the better part of a second of this thread on a small machine,
        and each step of a link's negotiation (offer or answer, candidates) needs the thread for
        a moment: the building gives way between its parts instead of holding those back."""
        own_id = welcome.peer
        spawn(self._load_models_at_latest())
        await asyncio.sleep(GIVE_WAY_S)
        layout = Layout(own_id)
        sync_timing = diagnostic_number("sync-timing") == 1
        self.stage = Stage(own_id, layout, lambda ops: self.sync.send_ops(ops), sync_timing, self.stage_canvas)
        await asyncio.sleep(GIVE_WAY_S)
        self.backgrounds = BackgroundPanel(self.stage, lambda image, data: self.sync.share(image, data))
        self.backgrounds.element.append(
            AIBackground(self.room, self.token, self.backgrounds.take, lambda: self.stage.layout.stage().aspect).element)
        self._later.append(self.backgrounds.add_presets)
        self.capture = Capture(
            own_id, self.mesh, layout, self.stage.renderer, self.pipeline, self.gallery, self._names,
            clock_skew_ms=diagnostic_number("clock-skew-ms"),
        )
        await asyncio.sleep(GIVE_WAY_S)
        layout.now_ms = self.capture.booth_now  # edits keep their order even from a device whose clock is off
        self.sync = StageSync(
            self.mesh, layout, self.stage, self.capture.next_transfer, self.backgrounds.show_progress, self.backgrounds.sync,
        )
        self.clips = Clips(
            own_id, self.mesh, layout, self.stage.renderer, self.gallery, self.capture,
            lambda: {peer: tile.video for peer, tile in self.tiles.items()}, self._voices, self._names,
        )
        self.stage.frame.append(self.capture.controls.overlay)
        self.capture.controls.overlay.append(self.clips.indicator)
        spawn(self.gallery.restore())
        own = self.tiles[own_id] = Tile(own_id, self.name, is_self=True)
        own.set_stream(self.outgoing, lambda speaking: own.set_flag("speaking", speaking))
        if self.pipeline is not None:
            self.pipeline.on_packed = self.stage.add_own_person(own_id, self.pipeline.packed.width, self.pipeline.packed.height)
            self.pipeline.on_resized = lambda width, height: setattr(
                self.pipeline, "on_packed", self.stage.add_own_person(own_id, width, height))
        if self.stream is None:
            own.status.hidden = False
            set_text(own.status, "preview.off")
        self.roster.prepend(own.element)
        self.sync.participants_changed()
        await asyncio.sleep(GIVE_WAY_S)
        for participant_id, participant in list(self.mesh.participants.items()):
            self._on_change(participant_id, participant)
        if not welcome.peers and not self.stage.synced:
            self._alone_at_start()
        for participant_id, deferred in self._before_stage:
            if participant_id in self.mesh.participants:  # not someone who has left meanwhile
                deferred()
        self._before_stage.clear()
        self._load_models_once_linked()
        publish_hook("clovStage", self._stage_report)
        publish_hook("clovCutout", self._cutout_png)
        publish_hook("clovStagePng", self.stage.png)
        publish_hook("clovCapture", lambda: json.dumps({**self.capture.report(), "clips": self.clips.report()}))

    def _load_models_once_linked(self) -> None:
        """Once every link is up and each friend connected shows here (their first frame played)."""
        if self._models_asked or any(
            participant.state in ("new", "connecting")
            or (participant.state == "connected" and not self._playing(participant_id))
            for participant_id, participant in self.mesh.participants.items()
        ):
            return
        self._models_asked = True
        spawn(self._after_links())

    def _playing(self, participant_id: str) -> bool:
        tile = self.tiles.get(participant_id)
        return tile is not None and tile.playing

    async def _after_links(self) -> None:
        """After the next paint: the frame `repeat_frame` put into the captured canvas for the
        friends just connected is taken then, and is on its way before the parts of the screen
        left for later are made and onnxruntime holds the page."""
        await js.Promise.new(create_once_callable(lambda resolve, _reject: js.requestAnimationFrame(resolve)))
        await self._make_later()
        self._load_models()

    async def _load_models_at_latest(self) -> None:
        await asyncio.sleep(MODELS_AT_LATEST_S)
        await self._make_later()
        self._load_models()

    async def _make_later(self) -> None:
        """The parts of the room screen left for once the links are up, one task each: what it
        shows that nobody needs in its first second (the background presets' swatches, the
        sticker tray, the invite's QR code). Made with the screen, they took a quarter of a
        second of this thread on a small machine, in tasks that held back the links' offer,
        answer and candidates (bench/join.py --trace)."""
        await self._shown.wait()
        await asyncio.sleep(GIVE_WAY_S)
        while self._later:
            part = self._later.pop(0)
            try:
                part()
            except Exception:  # noqa: BLE001 (one part missing must cost neither the others nor the models)
                js.console.error(f"a part of the room screen: {traceback.format_exc()}")
            await asyncio.sleep(GIVE_WAY_S)

    def _load_models(self) -> None:
        if self.pipeline is not None and self.pipeline.running:
            self.pipeline.load_models(diagnostic_text("ep"), int(diagnostic_number("threads")))

    def _names(self) -> dict[str, str]:
        return {peer: participant.name for peer, participant in self.mesh.participants.items()} | {self.mesh.own_id: self.name}

    def _voices(self) -> list[Any]:
        """The streams a clip mixes: our microphone's and everyone's."""
        streams = [self.stream] if self.stream is not None else []
        return streams + [participant.stream for participant in self.mesh.participants.values() if participant.stream is not None]

    def _stage_report(self) -> str:
        """The stage as this participant renders it, its draw times and when peers' edits
        arrived: read by the tests and bench/stage.py (`JSON.parse(clovStage())`)."""
        report = json.loads(self.stage.state_json())
        report["render_ms"] = self.stage.render_times()
        report["applied"] = self.sync.applied
        report["sent"] = self.sync.sent
        return json.dumps(report)

    async def _cutout_png(self, peer: str) -> str | None:
        """One frame of a person as this participant receives them, unpacked (alpha kept), as a
        PNG data URL: what the end-to-end tests compare with the model's own mask."""
        tile = self.tiles.get(peer)
        if tile is None or not tile.video.videoWidth:
            return None
        view = CutoutView(tile.video)
        try:
            await asyncio.wait_for(view.drawn, 5)
            return str(view.canvas.toDataURL("image/png"))
        finally:
            view.close()

    async def _render(self, own_id: str) -> None:
        """The room screen, built in parts with a pause between them, like the stage."""
        leave = h("button", {"id": "leave", "class": "button danger", "type": "button"}, icon("leave"), text("span", "leave"))
        on(self.mute_button, "click", self._toggle_mute)
        on(leave, "click", self._leave)
        link = here().invite(self.room, self.token)
        sheets = self.sheets
        effects = effects_bar(self.pipeline) if self.pipeline is not None else None
        if self.pipeline is not None:
            self.devices = DeviceChoice(self.stream, lambda camera_id: switch_camera(self.pipeline, camera_id), self._switch_microphone)
        bar = h(
            "nav",
            {"id": "room-bar", "class": "controls"},
            self.capture.controls.bar,
            self.clips.controls,
            effects,
            self.mute_button,
            sheets.opener("effects", "bar.effects", "effects", "open-effects") if effects is not None else None,
            copy_button(lambda: link, "copy-room-link", "copy.invite"),
            sheets.opener("more", "bar.more", "more", "open-more"),
            leave,
        )
        invite = InvitePanel(link)
        stickers = StickerTray(self.stage)
        self._later += [stickers.add_stickers, invite.draw_code]
        await asyncio.sleep(GIVE_WAY_S)
        side = h(
            "aside",
            {"class": "side"},
            sheets.adopt("people", h("section", {"class": "panel"}, text("h2", "roster.label"), self.roster, self.alone)),
            sheets.adopt("invite", invite.element),
            sheets.adopt("gallery", self.gallery.element),
            self.clips.progress,
            self.clips.error,
            self.capture.controls.strip_panel,
            sheets.adopt("background", self.backgrounds.element),
            sheets.adopt("stickers", stickers.element),
            sheets.adopt("devices", self.devices.element) if self.devices is not None else None,
            self.diagnostics.element if self.diagnostics is not None else None,
        )
        await asyncio.sleep(GIVE_WAY_S)
        more = [
            ("people", "bar.people", "people"), ("background", "background.title", "background"),
            ("stickers", "stickers.title", "stickers"), ("gallery", "gallery.title", "gallery"),
            ("invite", "invite.title", "invite"),
        ]
        if self.devices is not None:
            more.append(("devices", "devices.title", "devices"))
        if self.diagnostics is not None:
            sheets.adopt("diagnostics", self.diagnostics.element)
            more.append(("diagnostics", "diagnostics", "diagnostics"))
        sheets.adopt("more", h(
            "section",
            {"class": "panel more"},
            text("h2", "more.title"),
            h("div", {"class": "sheet-menu"}, *[sheets.opener(name, key, name_icon, f"open-{name}") for name, key, name_icon in more]),
            text("h3", "more.shutter"),
            sheets.movable(self.capture.controls.settings),
            sheets.movable(self.capture.controls.strip_panel),
            sheets.movable(leave),
        ))
        if effects is not None:
            sheets.adopt("effects", h("section", {"class": "panel"}, text("h2", "bar.effects"), sheets.movable(effects)))
        side.append(sheets.sheets["more"])
        if effects is not None:
            side.append(sheets.sheets["effects"])
        await asyncio.sleep(GIVE_WAY_S)
        toasts = h("div", {"class": "toasts"}, sheets.movable(self.clips.progress), sheets.movable(self.clips.error))
        show(
            "room",
            h(
                "main",
                {"class": "room"},
                self.banner,
                self.privacy.element,
                self.notice,
                h("div", {"class": "room-body"}, self.stage.element, side),
                sheets.scrim,
                toasts,
                bar,
            ),
        )
        sheets.place()
        self.backgrounds.sync()
        self._layout()
        self._shown.set()

    async def _switch_microphone(self, microphone_id: str) -> None:
        try:
            await switch_microphone(self.mesh, self.stream, microphone_id)
        finally:  # even a failed switch may have reopened the old microphone: a new track
            own = self.tiles.get(self.mesh.own_id)
            if own is not None:
                if own.detector is not None:
                    own.detector.close()
                own.detector = media.SpeakingDetector(self.outgoing, lambda speaking: own.set_flag("speaking", speaking))
            self.clips.refresh()  # a clip being recorded takes the new voice

    def _on_notice(self, key: str) -> None:
        set_text(self.notice, key)
        self.notice.hidden = False

    def _stop_media(self) -> None:
        self._stop_pipeline()
        media.stop(self.stream)

    def _stop_pipeline(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
        if self.diagnostics is not None:
            self.diagnostics.close()

    def _on_message(self, message: ServerMessage) -> None:
        self.mesh.handle(message)
        if isinstance(message, Welcome) and self.sync is not None and not message.peers and not self.stage.synced:
            self._alone_at_start()

    def _alone_at_start(self) -> None:
        if js.matchMedia(PORTRAIT_PHONE_QUERY).matches:
            self.stage.edit(STAGE, {"aspect": "3:4"})  # a booth begun on a phone held upright fills it
        self.sync.synced()  # alone in the booth: nobody's layout to wait for

    def _until_staged(self, participant_id: str, deferred: Callable[[], None]) -> bool:
        """True when the stage is not built yet: `deferred` then runs once it is, if the
        participant is still here."""
        if self.sync is not None:
            return False
        if len(self._before_stage) < BEFORE_STAGE_LIMIT:
            self._before_stage.append((participant_id, deferred))
        else:
            js.console.error("a peer's message before the stage was built: dropped, too many waiting")
        return True

    def _on_peer_message(self, participant_id: str, message: datachannel.Message | bytes) -> None:
        if self._until_staged(participant_id, lambda: self._on_peer_message(participant_id, message)):
            return
        # A binary chunk belongs to a transfer one of them was announced (by its number).
        if isinstance(message, (bytes, *CAPTURE_MESSAGES)):
            self.capture.receive(participant_id, message)
        if isinstance(message, bytes) or not isinstance(message, CAPTURE_MESSAGES):
            self.sync.receive(participant_id, message)

    def _on_channel_open(self, participant_id: str) -> None:
        if not self._until_staged(participant_id, lambda: self._on_channel_open(participant_id)):
            self.sync.channel_open(participant_id)
            self.capture.channel_open(participant_id)
            self.clips.channel_open(participant_id)

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
        if self.sync is None:
            return  # the stage, once built, takes everyone then present from the mesh
        tile = self.tiles.get(participant_id)
        if participant is None:
            if tile is not None:
                tile.close()
                del self.tiles[participant_id]
            if self.stage is not None:
                self.stage.remove_person(participant_id)
                self.sync.participants_changed()
                self.capture.peer_left(participant_id)
                self.clips.peer_left(participant_id)
                self.sync.peer_left(participant_id)
            self._layout()
            return
        if tile is None:
            tile = self.tiles[participant_id] = Tile(participant_id, participant.name, is_self=False, on_playing=self._load_models_once_linked)
            self.roster.append(tile.element)
            self.sync.participants_changed()
            self._layout()
        tile.name.textContent = participant.name
        if tile.set_stream(participant.stream, lambda speaking: self.mesh.set_speaking(participant_id, speaking)):
            self.stage.add_person(participant_id, tile.video)
            self.clips.refresh()
        tile.set_flag("muted", participant.muted)
        tile.set_flag("speaking", participant.speaking)
        tile.set_flag("connected", participant.state == "connected")
        # A tile made for someone already connected (the stage was built after their link came
        # up) has no data-state yet: dataset.state would raise.
        if participant.state == "connected" and tile.element.getAttribute("data-state") != "connected" and self.pipeline is not None:
            self.pipeline.repeat_frame()
        tile.element.dataset.state = participant.state
        self._load_models_once_linked()

    def _layout(self) -> None:
        if self.pipeline is not None:
            self.pipeline.max_fps = video_encoding(len(self.tiles))["maxFramerate"]
        self.roster.dataset.count = str(len(self.tiles))
        self.alone.hidden = len(self.tiles) > 1

    def _toggle_mute(self, _: Any) -> None:
        muted = not self.mesh.muted
        self.mesh.set_muted(muted)
        self.mute_button.setAttribute("aria-pressed", "true" if muted else "false")
        set_text(self.mute_label, "unmute" if muted else "mute")
        self.mute_icon.replaceWith(icon("mic-off" if muted else "mic"))
        self.mute_icon = self.mute_button.querySelector(".icon")
        own = self.tiles.get(self.mesh.own_id)
        if own is not None:
            own.set_flag("muted", muted)

    def _leave(self, _: Any) -> None:
        unsaved = self.gallery.not_downloaded()
        if unsaved and not js.confirm(t("gallery.leave_unsaved", n=unsaved)):
            return
        self._abandon()
        media.stop(self.stream)
        js.location.assign(here().root)


async def enter_room(room: str, token: str, name: str, stream: Any, prepared: Prepared, progress: Progress) -> None:
    await Room(room, token, name, stream, prepared).open(progress)
