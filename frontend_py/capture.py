"""The shutter at work: clocks, countdowns, stills in flight, and the photo everyone gets.

shutter.py holds the rules; this module runs them over the data channels. A press becomes a
`shutter` message (datachannel.py) whose countdown each page starts at the same instant on
its own clock (clocksync.py). At the shot each page takes its own cut-out at the camera's
full size and sends it to everyone as binary chunks; the presser then says which stills
count and freezes the layout, and every page renders the same photo (photo.py) into its
gallery. A strip is four such shots in a series, printed together at the end.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import js

from frontend_py import clocksync, datachannel, photo, transfers
from frontend_py.capturecontrols import CaptureControls
from frontend_py.datachannel import (
    ClipHeader,
    ClockProbe,
    Header,
    PhotoDecision,
    Recording,
    Shutter,
    StillHeader,
)
from frontend_py.dom import js_object, spawn
from frontend_py.gallery import Gallery
from frontend_py.imagecheck import ImageRejected
from frontend_py.layout import Layout
from frontend_py.mesh import Mesh
from frontend_py.pipeline import Pipeline
from frontend_py.shutter import (
    DECISION_WAIT_S,
    LEAD_S,
    ORPHAN_WAIT_S,
    SERIES_PAUSE_S,
    STILL_WAIT_S,
    PressLimit,
    decided_stills,
    frozen_ops,
    ready,
    wins,
)
from frontend_py.stagerenderer import Person, Picture, StageRenderer
from frontend_py.ui import t

SHOTS_KEPT = 6  # shots whose stills are kept (a strip's four and a little slack)
POLL_S = 0.05


class Shot:
    """One shot as this page sees it."""

    def __init__(self, shutter: Shutter, local_start: float) -> None:
        self.shutter, self.local_start = shutter, local_start
        self.stills: dict[str, tuple[bytes, int, int]] = {}  # peer -> PNG, width, height
        self.decision: asyncio.Future[PhotoDecision] = asyncio.Future()
        self.people: set[str] = set()  # the presser's: who was in the booth at the press
        self.ops: list[dict[str, Any]] = []  # the layout frozen at the shot
        self.timings: dict[str, float] = {}  # ms after the shot: still sent, decision, photo made

    @property
    def local_shot(self) -> float:
        return self.local_start + self.shutter.countdown * 1000.0


class Capture:
    """Photos and strips for one booth. `names()` gives the participants' names by id."""

    def __init__(
        self, own_id: str, mesh: Mesh, layout: Layout, renderer: StageRenderer, pipeline: Pipeline | None,
        gallery: Gallery, names: Callable[[], dict[str, str]], clock_skew_ms: float = 0.0,
    ) -> None:
        self.own_id, self.mesh, self.layout, self.renderer = own_id, mesh, layout, renderer
        self.pipeline, self.gallery, self.names = pipeline, gallery, names
        self.skew = clock_skew_ms  # diagnostics only: a page whose clock is off, for the tests
        self.clocks = clocksync.Clocks()
        self.limit = PressLimit()
        self.shots: OrderedDict[str, Shot] = OrderedDict()
        self.current: Shot | None = None
        self.countdown_task: asyncio.Future[Any] | None = None
        self.incoming = transfers.Incoming(self._arrived, self._arriving)
        # Clips shared by others, and who records: clips.py.
        self.on_clip: Callable[[str, ClipHeader, bytes], None] = lambda _peer, _header, _data: None
        self.on_clip_progress: Callable[[str, float], None] = lambda _peer, _fraction: None
        self.on_recording: Callable[[str, bool], None] = lambda _peer, _on: None
        self.series_photos: dict[str, list[Any]] = {}  # series -> ImageBitmaps of its photos
        self.pressed = 0
        self.transfers = 0
        # For the tests and bench/capture.py, on the true clock (epoch ms): countdowns shown,
        # photos made, and the size of each still we sent.
        self.started: list[tuple[str, float]] = []
        self.composed: list[tuple[str, float]] = []
        self.still_bytes: list[int] = []
        self.timings: list[dict[str, float]] = []
        self.controls = CaptureControls(self.press)
        self._pinging = spawn(self._keep_clocks())

    # ----------------------------------------------------------------- clocks

    def now(self) -> float:
        """This page's clock, epoch milliseconds."""
        return float(js.performance.timeOrigin) + float(js.performance.now()) + self.skew

    def booth_now(self) -> float:
        """The booth's shared time (clocksync.Clocks.to_booth), epoch milliseconds."""
        return self.now() + self.clocks.to_booth()

    def channel_open(self, peer: str) -> None:
        spawn(self._burst(peer))

    async def _burst(self, peer: str) -> None:
        for _ in range(clocksync.BURST):
            self.mesh.send(peer, datachannel.clock_question(self.now()))
            await asyncio.sleep(0.1)

    async def _keep_clocks(self) -> None:
        while True:
            await asyncio.sleep(clocksync.EVERY_S)
            self.incoming.sweep()
            for peer in list(self.mesh.links):
                self.mesh.send(peer, datachannel.clock_question(self.now()))

    def _clock(self, peer: str, probe: ClockProbe) -> None:
        if probe.t1 is None:
            received = self.now()
            self.mesh.send(peer, datachannel.clock_answer(probe, received, self.now()))
        else:
            self.clocks.peer(peer).add(probe.t0, probe.t1, probe.t2, self.now())

    # ----------------------------------------------------------------- messages

    def receive(self, peer: str, message: datachannel.Message | bytes) -> None:
        """A message from `peer` (checked by datachannel.parse), or a binary chunk."""
        if isinstance(message, bytes):
            self.incoming.chunk(peer, message)
        elif isinstance(message, ClockProbe):
            self._clock(peer, message)
        elif isinstance(message, Shutter) and message.presser == peer:
            if self.limit.allow(peer, time.monotonic()):
                self._start(message, self.clocks.to_local(peer, message.at))
        elif (isinstance(message, StillHeader) and message.shot in self.shots) or isinstance(message, ClipHeader):
            self.incoming.announce(peer, message)
        elif isinstance(message, Recording):
            self.on_recording(peer, message.on)
        elif isinstance(message, PhotoDecision) and datachannel.shot_owner(message.shot) == peer:
            shot = self.shots.get(message.shot)
            if shot is not None and not shot.decision.done():
                shot.decision.set_result(message)

    def _arrived(self, peer: str, header: Header, data: bytes) -> None:
        if isinstance(header, ClipHeader):
            self.on_clip(peer, header, data)
            return
        shot = self.shots.get(header.shot)
        if shot is not None:
            shot.stills[peer] = (data, header.width, header.height)

    def _arriving(self, peer: str, header: Header, fraction: float) -> None:
        if isinstance(header, ClipHeader):
            self.on_clip_progress(peer, fraction)

    def next_transfer(self) -> int:
        self.transfers += 1
        return self.transfers

    def peer_left(self, peer: str) -> None:
        self.clocks.forget(peer)
        self.limit.forget(peer)
        self.incoming.forget(peer)

    # ----------------------------------------------------------------- countdowns

    def press(self, countdown: int, count: int) -> None:
        """Our shutter: a countdown for everyone, unless one is running."""
        if self.current is not None:
            return
        self.pressed += 1
        shot = f"{self.own_id}:{self.pressed}"
        self._announce(Shutter(shot, self.now() + LEAD_S * 1000.0, countdown, shot, 0, count))

    def _announce(self, shutter: Shutter) -> None:
        self.mesh.broadcast(shutter.message())
        started = self._start(shutter, shutter.at)
        if started is not None:
            started.people = {self.own_id, *self.mesh.participants}

    def _start(self, shutter: Shutter, local_start: float) -> Shot | None:
        if shutter.shot in self.shots:
            return None
        if self.current is not None and not wins(self.current.shutter, shutter):
            return None
        if self.current is not None and self.current.shutter.series != shutter.series and self.countdown_task is not None:
            self.countdown_task.cancel()  # two presses at once: this one wins everywhere
        shot = self.current = self.shots[shutter.shot] = Shot(shutter, local_start)
        self.controls.busy(True)
        while len(self.shots) > SHOTS_KEPT:
            self.shots.popitem(last=False)
        self.countdown_task = spawn(self._run(shot))
        return shot

    async def _run(self, shot: Shot) -> None:
        shutter = shot.shutter
        try:
            await self._count_down(shot)
            shot.ops = frozen_ops(self.layout, shot.people or {self.own_id, *self.mesh.participants})
            await self._take_still(shot)
            shot.timings["still"] = self.now() - shot.local_shot
            decision = await self._decision(shot)
            shot.timings["decision"] = self.now() - shot.local_shot
        except asyncio.CancelledError:
            self.controls.stop_countdown()
            raise
        finally:
            if self.current is shot:
                self.current = None
                self.controls.busy(False)
        if shutter.presser == self.own_id and shutter.index + 1 < shutter.count:
            self.pressed += 1
            following = Shutter(f"{self.own_id}:{self.pressed}", self.now() + SERIES_PAUSE_S * 1000.0, shutter.countdown,
                                shutter.series, shutter.index + 1, shutter.count)
            self._announce(following)
        await self._compose(shot, decision)

    async def _count_down(self, shot: Shot) -> None:
        shutter = shot.shutter
        self.controls.series(shutter.index, shutter.count)
        await self._sleep_until(shot.local_start)
        self.started.append((shutter.shot, self.now() - self.skew))
        del self.started[:-100]
        while (left := shot.local_shot - self.now()) > 0:
            self.controls.show_countdown(math.ceil(left / 1000.0 - 1e-3))
            await self._sleep_until(shot.local_shot - (math.ceil(left / 1000.0 - 1e-3) - 1) * 1000.0)
        self.controls.flash()

    async def _sleep_until(self, local_ms: float) -> None:
        delay = (local_ms - self.now()) / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)

    async def _take_still(self, shot: Shot) -> None:
        if self.pipeline is None or not self.pipeline.running:
            return
        pixels, width, height = self.pipeline.still()
        blob = await photo.encode_png(pixels, width, height)
        data = js.Uint8Array.new(await blob.arrayBuffer())
        shot.stills[self.own_id] = (data.to_bytes(), width, height)
        self.still_bytes.append(int(data.length))
        del self.still_bytes[:-100]
        header = StillHeader(shot.shutter.shot, self.next_transfer(), int(data.length), photo.PNG, width, height)
        for peer in list(self.mesh.links):
            spawn(transfers.send(self.mesh, peer, header, data))

    async def _decision(self, shot: Shot) -> PhotoDecision:
        """The presser decides; everyone else waits for its word, or decides alone when the
        presser is gone (its photo may then differ a little from others')."""
        shutter = shot.shutter
        if shutter.presser == self.own_id:
            deadline = self.now() + DECISION_WAIT_S * 1000.0
            while not ready(shot.people & {self.own_id, *self.mesh.participants}, shot.stills) and self.now() < deadline:
                await asyncio.sleep(POLL_S)
            decision = PhotoDecision(shutter.shot, decided_stills(shot.people, shot.stills), tuple(shot.ops))
            self.mesh.broadcast(decision.message())
            return decision
        try:
            return await asyncio.wait_for(asyncio.shield(shot.decision), ORPHAN_WAIT_S)
        except TimeoutError:
            people = {self.own_id, *self.mesh.participants}
            return PhotoDecision(shutter.shot, decided_stills(people, shot.stills), tuple(shot.ops))

    # ----------------------------------------------------------------- composing

    async def _compose(self, shot: Shot, decision: PhotoDecision) -> None:
        deadline = self.now() + STILL_WAIT_S * 1000.0
        while any(peer not in shot.stills for peer in decision.stills) and self.now() < deadline:
            await asyncio.sleep(POLL_S)
        stage, layers = decision.layout()
        people: dict[str, Person | Picture] = {}
        from_video: list[str] = []
        pictures: list[Picture] = []
        for layer in layers:
            if layer.kind != "person":
                continue
            still = shot.stills.get(layer.id) if layer.id in decision.stills else None
            if still is not None:
                try:
                    bitmap = await photo.decode_still(*still)
                except ImageRejected:
                    bitmap = None
                if bitmap is not None:
                    pictures.append(people.setdefault(layer.id, photo.still_picture(self.renderer, bitmap)))
                    bitmap.close()
                    continue
            if layer.id in self.renderer.people:
                people[layer.id] = self.renderer.people[layer.id]
                from_video.append(layer.id)
        try:
            pixels, width, height = await photo.render(self.renderer, stage, [layer for layer in layers if layer.kind != "person" or layer.id in people], people)
        finally:
            for art in pictures:
                art.texture.delete()
        shot.timings["rendered"] = self.now() - shot.local_shot
        blob = await photo.encode_png(pixels, width, height)
        shot.timings["encoded"] = self.now() - shot.local_shot
        names = self.names()
        note = ("gallery.from_video", {"names": ", ".join(names.get(peer, "?") for peer in from_video)}) if from_video else ("", None)
        series = shot.shutter.series
        if shot.shutter.count == 1:
            await self.gallery.add("photo", blob, width, height, self.now() - self.skew, note[0], note[1])
        else:
            photos = self.series_photos.setdefault(series, [None] * shot.shutter.count)
            photos[shot.shutter.index] = await js.createImageBitmap(blob)
            if shot.shutter.index + 1 == shot.shutter.count:
                await self._print_strip(series, photos)
        shot.timings["photo"] = self.now() - shot.local_shot
        self.composed.append((shot.shutter.shot, self.now() - self.skew))
        self.timings.append(shot.timings)
        del self.timings[:-100]
        del self.composed[:-100]
        self.controls.taken()

    async def _print_strip(self, series: str, photos: list[Any]) -> None:
        del self.series_photos[series]
        kind, frame, caption = self.controls.strip_options()
        date_text = str(js.Date.new().toLocaleDateString(t.language, js_object({"year": "numeric", "month": "long", "day": "numeric"})))
        blob = await photo.strip(kind, frame, photos, caption, date_text)
        for bitmap in photos:
            if bitmap is not None:
                bitmap.close()
        width, height = photo.photostrip.size(kind)
        await self.gallery.add("strip", blob, width, height, self.now() - self.skew)

    def report(self) -> dict[str, Any]:
        """For the tests and bench/capture.py: countdowns shown, and clock estimates."""
        return {
            "started": self.started,
            "composed": self.composed,
            "still_bytes": self.still_bytes,
            "timings": self.timings,
            "offsets": {peer: clock.offset for peer, clock in self.clocks.peers.items()},
            "busy": self.current is not None,
        }

    def close(self) -> None:
        self._pinging.cancel()
        if self.countdown_task is not None:
            self.countdown_task.cancel()
