"""Keeping every stage the same: layout ops, snapshots for newcomers, custom background images.

Each peer sends its own edits to everyone; a peer whose data channel opens gets our whole
snapshot (merging is idempotent, so snapshots from several peers do no harm). A custom
background travels as binary chunks (transfers.py), and a peer that sees a background it
lacks asks the peer that told it about it. What arrives was checked by datachannel.parse;
here a peer's ops are also rate-limited, and a peer's image is checked like an upload
before the browser decodes it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import to_js

from frontend_py import datachannel, transfers
from frontend_py.datachannel import BackgroundHeader, BackgroundRequest, LiveOps, Snapshot
from frontend_py.dom import js_object, spawn
from frontend_py.imagecheck import HEADER_BYTES, fit_cover, inspect
from frontend_py.layout import PHOTO_SIZES, Layout
from frontend_py.mesh import Mesh
from frontend_py.stage import Stage

PRESENCE_EVERY_S = 5.0
SYNC_WAIT_S = 3.0  # a newcomer places itself after the first snapshot, or this long without one
IMAGES_KEPT = 8  # finished background images kept (to send on request), the current one always
OPS_PER_S, OPS_BURST = 200.0, 400.0  # a drag makes ~120 ops a second; a flood is cut to this


class OpBudget:
    """A token bucket per peer: ops beyond the rate are dropped, not queued."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, peer: str, count: int, now: float) -> bool:
        tokens, since = self.buckets.get(peer, (OPS_BURST, now))
        tokens = min(OPS_BURST, tokens + (now - since) * OPS_PER_S)
        allowed = tokens >= count
        self.buckets[peer] = (tokens - count if allowed else tokens, now)
        return allowed

    def forget(self, peer: str) -> None:
        self.buckets.pop(peer, None)


class StageSync:
    def __init__(
        self, mesh: Mesh, layout: Layout, stage: Stage, next_transfer: Callable[[], int],
        on_progress: Callable[[float | None], None], on_change: Callable[[], None],
    ) -> None:
        self.mesh, self.layout, self.stage, self.next_transfer = mesh, layout, stage, next_transfer
        self.on_progress, self.on_change = on_progress, on_change
        self.images: OrderedDict[str, bytes] = OrderedDict()
        self.requested: dict[str, str] = {}  # image -> the peer asked for it
        self.sending: set[tuple[str, str]] = set()  # (peer, image) on their way: a request is answered once
        self.budget = OpBudget()
        self.incoming = transfers.Incoming(self._image_arrived, lambda _peer, _header, fraction: self.on_progress(fraction), self._image_dropped)
        # (epoch ms, layer, prop, clock) of ops sent and of peers' ops applied: bench/stage.py
        # matches them up to measure how long an edit takes to reach everyone.
        self.sent: list[tuple[float, str, str, int]] = []
        self.applied: list[tuple[float, str, str, int]] = []
        self._presence = spawn(self._keep_presence())
        self._synced = spawn(self._sync_in_time())

    def send_ops(self, ops: list[dict[str, Any]]) -> None:
        now = js.Date.now()
        self.sent.extend((now, op["layer"], op["prop"], op["clock"]) for op in ops)
        del self.sent[:-1000]
        self.mesh.broadcast(LiveOps(tuple(ops)).message())

    def channel_open(self, peer: str) -> None:
        for part in datachannel.snapshot_parts(self.layout.snapshot()):
            self.mesh.send(peer, part.message())

    def synced(self) -> None:
        """The booth's layout is here (or nobody else is): we may take our place."""
        self.stage.synced = True
        self._changed()

    async def _sync_in_time(self) -> None:
        await asyncio.sleep(SYNC_WAIT_S)
        if not self.stage.synced:
            self.synced()

    def participants_changed(self) -> None:
        self.layout.present(self.mesh.participants, time.monotonic())
        self._changed()

    def peer_left(self, peer: str) -> None:
        self.budget.forget(peer)
        self.incoming.forget(peer)
        for image in [image for image, asked in self.requested.items() if asked == peer]:
            del self.requested[image]  # asked again of whoever names it next
        self._request_background(None)

    def receive(self, peer: str, message: datachannel.Message | bytes) -> None:
        if isinstance(message, bytes):
            self.incoming.chunk(peer, message)
        elif isinstance(message, (LiveOps, Snapshot)):
            if isinstance(message, Snapshot) or self.budget.take(peer, len(message.ops), time.monotonic()):
                self._apply(peer, message.ops)
            if isinstance(message, Snapshot) and not self.stage.synced:
                self.synced()
        elif (
            isinstance(message, BackgroundRequest)
            and message.image in self.images
            and (peer, message.image) not in self.sending
        ):
            spawn(self._send_image(peer, message.image, self.images[message.image]))
        elif isinstance(message, BackgroundHeader) and message.image not in self.images:
            self.incoming.announce(peer, message)

    def _apply(self, peer: str, ops: tuple[dict[str, Any], ...]) -> None:
        changed = False
        now = js.Date.now()
        for op in ops:
            if self.layout.apply(op):  # an op it refuses (too far ahead, past a bound) changes nothing
                changed = True
                self.applied.append((now, op["layer"], op["prop"], op["clock"]))
        del self.applied[:-1000]
        self._request_background(peer)
        if changed:
            self._changed()

    def _request_background(self, peer: str | None) -> None:
        """Ask for the background's image if we lack it: of `peer`, or of anyone here."""
        background = self.layout.stage().background
        if not datachannel.is_image_id(background) or background in self.images or background in self.requested:
            return
        if any(getattr(transfer.header, "image", None) == background for transfer in self.incoming.transfers.values()):
            return  # on its way already
        asked = peer or next(iter(self.mesh.links), None)
        if asked is not None and self.mesh.send(asked, BackgroundRequest(background).message()):
            self.requested[background] = asked

    def _changed(self) -> None:
        self.stage.changed()
        self.on_change()

    def _keep(self, image: str, data: bytes) -> None:
        self.images[image] = data
        self.images.move_to_end(image)
        current = self.layout.stage().background
        for old in [old for old in self.images if old != current and old != image][: max(0, len(self.images) - IMAGES_KEPT)]:
            del self.images[old]

    async def share(self, image: str, data: bytes) -> None:
        """Send a chosen image to every peer, then it may become the background."""
        self._keep(image, data)
        peers = list(self.mesh.links)
        for index, peer in enumerate(peers):
            await self._send_image(peer, image, data, lambda part, index=index: self.on_progress((index + part) / len(peers)))
        self.on_progress(None)

    async def _send_image(self, peer: str, image: str, data: bytes, progress: Callable[[float], None] | None = None) -> None:
        self.sending.add((peer, image))
        try:
            header = BackgroundHeader(image, self.next_transfer(), len(data))
            await transfers.send(self.mesh, peer, header, to_js(data), progress)
        finally:
            self.sending.discard((peer, image))

    def _image_arrived(self, peer: str, header: datachannel.Header, data: bytes) -> None:
        self.on_progress(None)
        if isinstance(header, BackgroundHeader) and datachannel.image_id(data) == header.image:
            spawn(self._decode(header.image, data))
        else:
            self._image_dropped(peer, header)

    def _image_dropped(self, peer: str, header: datachannel.Header) -> None:
        """A transfer that failed: the image is asked for again, of anyone."""
        self.on_progress(None)
        if isinstance(header, BackgroundHeader) and self.requested.get(header.image) == peer:
            del self.requested[header.image]
            self._request_background(None)

    async def _decode(self, image: str, data: bytes) -> None:
        """Checked like an upload (kind, size, pixels) before decoding, and decoded no larger
        than the photo's size: a peer's bomb never reaches the decoder or the GPU."""
        try:
            info = inspect(data[:HEADER_BYTES], len(data))
            width, _ = fit_cover(info.width, info.height, *PHOTO_SIZES[self.layout.stage().aspect])
            scale = min(1.0, width / info.width)
            blob = js.Blob.new(to_js([to_js(data)]), js_object({"type": f"image/{info.format}"}))
            options = {"resizeWidth": max(1, round(info.width * scale)), "resizeHeight": max(1, round(info.height * scale)), "resizeQuality": "high"}
            bitmap = await js.createImageBitmap(blob, js_object(options))
        except Exception as exc:  # noqa: BLE001 (refused (ImageRejected), or the browser could not decode it)
            js.console.warn(f"background {image[:16]}: {exc}")
            return
        self.requested.pop(image, None)
        self._keep(image, data)
        self.stage.add_image(image, bitmap)
        self.on_change()

    async def _keep_presence(self) -> None:
        # A peer away for a minute must be forgotten even when nothing else happens.
        while True:
            await asyncio.sleep(PRESENCE_EVERY_S)
            self.layout.present(self.mesh.participants, time.monotonic())
            self.incoming.sweep()

    def close(self) -> None:
        self._presence.cancel()
        self._synced.cancel()
