"""Before the booth: create one (the lobby) or accept an invite, with name and camera check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import js
from pyodide.ffi import JsException

from frontend_py import media
from frontend_py.dom import h, js_object, mark, on, spawn, stored
from frontend_py.entering import Prepared, Progress, enter_with_feedback, status_line
from frontend_py.i18n import error_key
from frontend_py.pipeline import Pipeline
from frontend_py.stage import StageCanvas
from frontend_py.ui import copy_button, set_text, show, show_error, t, text
from frontend_py.urls import here
from frontend_py.webgl import WebGLUnavailable
from signaling.protocol import ProtocolError, clean_name

NAME_KEY = "clov.name"
CAMERA_KEY = "clov.camera"
MICROPHONE_KEY = "clov.microphone"

# (room, token, name, camera stream, what was made for the booth meanwhile, progress)
Enter = Callable[[str, str, str, Any, Prepared, Progress], Awaitable[None]]


class Preview:
    """The local camera preview with camera and microphone pickers; owns the stream, and what
    is made for the booth while the person is here (`take_prepared`): the pipeline for the
    camera, then the stage's canvas."""

    def __init__(self) -> None:
        self.stream: Any = None
        self.opened = asyncio.Event()  # the camera was asked for: `stream` is what it gave
        self.pipeline: Pipeline | None = None
        self.stage_canvas: StageCanvas | None = None
        self.entering = False  # what was prepared was handed over: the booth owns the camera now
        self.video = h("video", {"id": "preview", "autoplay": True, "muted": True, "playsInline": True})
        self.notice = h("p", {"id": "media-notice", "class": "notice", "hidden": True})
        self.cameras = h("select", {"id": "camera-select"})
        self.microphones = h("select", {"id": "mic-select"})
        on(self.video, "playing", self._playing)
        on(self.cameras, "change", self._devices_changed)
        on(self.microphones, "change", self._devices_changed)
        self.element = h(
            "section",
            {"class": "preview"},
            h("div", {"class": "preview-frame"}, self.video, text("span", "preview.off", {"class": "preview-off"})),
            self.notice,
            h(
                "div",
                {"class": "devices"},
                h("label", {}, text("span", "camera.label"), self.cameras),
                h("label", {}, text("span", "mic.label"), self.microphones),
            ),
        )

    async def start(self) -> None:
        await self._open(stored(CAMERA_KEY), stored(MICROPHONE_KEY))
        self.opened.set()
        await self._fill_pickers()

    async def camera(self) -> Any:
        """The stream to enter with, once the camera has answered (None without one)."""
        await self.opened.wait()
        return self.stream

    def take_prepared(self) -> Prepared:
        """What was made for the booth, handed over once, to the booth entered with this
        camera. A pipeline that failed meanwhile is left out (the booth makes its own: a hidden
        tab, for one, presents no frame to prepare with), and so is anything whose GPU context
        is gone (a GPU process that gave up took it)."""
        pipeline, self.pipeline = self.pipeline, None
        stage_canvas, self.stage_canvas = self.stage_canvas, None
        self.entering = True
        if pipeline is not None and (pipeline.preparing_failed or pipeline.gl.isContextLost()):
            pipeline.discard()
            pipeline = None
        if stage_canvas is not None and stage_canvas.gl.isContextLost():
            stage_canvas = None
        return Prepared(pipeline, stage_canvas)

    def _playing(self, _: Any) -> None:
        mark("preview")
        if self.stream is None or self.pipeline is not None or self.entering:
            return
        try:
            self.pipeline = Pipeline(self.stream)
        except WebGLUnavailable:  # said at Join, when the booth tries to make its own
            return
        spawn(self._make_stage_canvas(self.pipeline.prepare()))

    async def _make_stage_canvas(self, pipeline_prepared: asyncio.Future[None]) -> None:
        """Once the pipeline is prepared (the preview and the camera come first), once."""
        await asyncio.wait([pipeline_prepared])
        if self.entering or self.stage_canvas is not None:
            return
        try:
            stage_canvas = StageCanvas()
            stage_canvas.warm_up()
        except WebGLUnavailable:
            return
        self.stage_canvas = stage_canvas

    async def _open(self, camera_id: str, microphone_id: str) -> None:
        if self.pipeline is not None:
            self.pipeline.discard()
            self.pipeline = None
        media.stop(self.stream)
        try:
            self.stream = await media.open_camera(camera_id, microphone_id)
        except media.MediaError as error:
            if camera_id or microphone_id:
                return await self._open("", "")
            self.stream = None
            self.notice.hidden = False
            set_text(self.notice, error.key)
        self.video.srcObject = self.stream
        self.element.classList.toggle("has-video", self.stream is not None)

    async def _fill_pickers(self) -> None:
        devices = await media.list_devices()
        in_use = {track.kind: track.getSettings().deviceId for track in (self.stream.getTracks() if self.stream else [])}
        for picker, options, kind in (
            (self.cameras, devices.cameras, "video"),
            (self.microphones, devices.microphones, "audio"),
        ):
            picker.replaceChildren(*[h("option", {"value": i, "selected": i == in_use.get(kind)}, label) for i, label in options])
            picker.disabled = not options

    async def _devices_changed(self, _: Any) -> None:
        js.localStorage.setItem(CAMERA_KEY, self.cameras.value)
        js.localStorage.setItem(MICROPHONE_KEY, self.microphones.value)
        await self._open(self.cameras.value, self.microphones.value)


async def enter_with(preview: Preview, enter: Enter, room: str, token: str, name: str, progress: Progress) -> None:
    """Enter with the camera of the preview: pressed before the camera answered, wait for it."""
    progress("enter.camera")
    stream = await preview.camera()
    await enter(room, token, name, stream, preview.take_prepared(), progress)


def name_field() -> tuple[Any, Callable[[], str | None]]:
    """The name input (remembered) and a reader that returns a valid name or shows why not."""
    field = h(
        "input",
        {"id": "name", "type": "text", "maxlength": "64", "autocomplete": "nickname",
         "value": stored(NAME_KEY), "placeholder": t("name.placeholder"),
         "data-i18n-placeholder": "name.placeholder"},
    )
    problem = h("p", {"id": "name-error", "class": "field-error", "hidden": True})

    def read() -> str | None:
        try:
            name = clean_name(field.value)
        except ProtocolError:
            problem.hidden = False
            set_text(problem, "name.invalid")
            field.focus()
            return None
        problem.hidden = True
        js.localStorage.setItem(NAME_KEY, name)
        return name

    label = h("label", {"class": "field"}, text("span", "name.label"), field, problem)
    keep_in_view(field)
    return label, read


def keep_in_view(field: Any) -> None:
    """A phone's keyboard shrinks the viewport over the page: the field being typed in is
    brought back into sight whenever that happens while it has the focus."""
    typing = False

    def focused(_: Any) -> None:
        nonlocal typing
        typing = True

    def blurred(_: Any) -> None:
        nonlocal typing
        typing = False

    def resized(_: Any) -> None:
        if typing and field.isConnected:
            field.scrollIntoView(js_object({"block": "center", "behavior": "instant"}))

    on(field, "focus", focused)
    on(field, "blur", blurred)
    on(getattr(js, "visualViewport", None) or js.window, "resize", resized)


async def show_lobby(enter: Enter) -> None:
    preview = Preview()
    field, read_name = name_field()
    create = text("button", "create", {"id": "create", "class": "button primary", "type": "button"})
    invite_box = h("div", {"id": "invite", "class": "invite", "hidden": True})
    problem = h("p", {"id": "lobby-error", "class": "field-error", "role": "alert", "hidden": True})

    async def create_booth(_: Any) -> None:
        name = read_name()
        if name is None:
            return
        create.disabled = True
        set_text(create, "creating")
        try:
            response = await js.fetch(here().api("rooms"), js_object({"method": "POST"}))
            body = (await response.json()).to_py()
        except JsException:  # offline, or an answer that is not JSON (a proxy's error page)
            body, response = {"error": "unavailable"}, None
        if response is None or response.status != 201:
            create.disabled = False
            set_text(create, "create")
            problem.hidden = False
            set_text(problem, error_key(body.get("error", "unavailable")))
            return
        room, token = body["room"], body["token"]
        link = here().invite(room, token)
        # Reloading this page now rejoins the booth instead of creating another.
        js.history.replaceState(None, "", here().invite(room, token, str(js.location.search)))
        link_field = h("input", {"id": "invite-link", "type": "text", "readOnly": True, "value": link})
        enter_button = text("button", "enter", {"id": "enter", "class": "button primary", "type": "button"})
        status = status_line()
        on(enter_button, "click", lambda _: enter_with_feedback(
            enter_button, status, "joining", "enter.retry",
            lambda progress: enter_with(preview, enter, room, token, read_name() or name, progress)))
        invite_box.replaceChildren(
            text("span", "invite.label", {"class": "label"}),
            h("div", {"class": "invite-row"}, link_field, copy_button(lambda: link, "copy-link")),
            text("p", "invite.hint", {"class": "hint"}, hours=round((body["expires_at"] - js.Date.now() / 1000) / 3600)),
            enter_button,
            status,
        )
        invite_box.hidden = False
        create.hidden = True

    on(create, "click", create_booth)
    show(
        "lobby",
        h(
            "main",
            {"class": "card"},
            preview.element,
            h("section", {"class": "form"}, text("h1", "tagline"), field, create, problem, invite_box),
        ),
    )
    await preview.start()


async def show_invitation(room: str, token: str, enter: Enter) -> None:
    """The screen behind an invite link: who's inside, name, camera check, Join."""
    try:
        response = await js.fetch(
            here().api(f"rooms/{room}"),
            js_object({"headers": {"Authorization": f"Bearer {token}"}}),
        )
        body = (await response.json()).to_py()
    except JsException:  # offline, or an answer that is not JSON (a proxy's error page)
        return show_error("error.unavailable")
    if response.status != 200:
        return show_error(error_key(body.get("error", "unavailable")))
    if body["occupancy"] >= body["capacity"]:
        return show_error("error.room_full")
    preview = Preview()
    field, read_name = name_field()
    join = text("button", "join", {"id": "join", "class": "button primary", "type": "button"})
    status = status_line()

    async def join_booth(_: Any) -> None:
        name = read_name()
        if name is not None:
            mark("join")
            await enter_with_feedback(join, status, "joining", "enter.retry", lambda progress: enter_with(preview, enter, room, token, name, progress))

    on(join, "click", join_booth)
    show(
        "join",
        h(
            "main",
            {"class": "card"},
            preview.element,
            h(
                "section",
                {"class": "form"},
                text("h1", "join.title"),
                text("p", "join.occupancy", {"id": "occupancy", "class": "hint"}, n=body["occupancy"], cap=body["capacity"]),
                field,
                join,
                status,
            ),
        ),
    )
    await preview.start()
