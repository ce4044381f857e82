"""Keeping every stage the same: layout ops, snapshots for newcomers, custom background images.

Each peer sends its own edits to everyone; a peer whose data channel opens gets our whole
snapshot (merging is idempotent, so snapshots from several peers do no harm). A custom
background travels in chunks, paced by the data channel's buffer, and a peer that sees a
background it lacks asks the peer that told it about it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import js
from pyodide.ffi import to_js

from frontend_py import datachannel
from frontend_py.dom import js_object, spawn
from frontend_py.layout import Layout
from frontend_py.mesh import Mesh
from frontend_py.stage import Stage

MAX_BUFFERED = 1 << 20  # bytes queued per data channel before a transfer waits
PRESENCE_EVERY_S = 5.0


class StageSync:
    def __init__(self, mesh: Mesh, layout: Layout, stage: Stage, on_progress: Callable[[float | None], None], on_change: Callable[[], None]) -> None:
        self.mesh, self.layout, self.stage = mesh, layout, stage
        self.on_progress, self.on_change = on_progress, on_change
        self.images: dict[str, bytes] = {}
        self.transfers: dict[str, datachannel.Transfer] = {}
        self.requested: set[str] = set()
        # (epoch ms, layer, prop, clock) of ops sent and of peers' ops applied: bench/stage.py
        # matches them up to measure how long an edit takes to reach everyone.
        self.sent: list[tuple[float, str, str, int]] = []
        self.applied: list[tuple[float, str, str, int]] = []
        self._presence = spawn(self._keep_presence())

    def send_ops(self, ops: list[dict[str, Any]]) -> None:
        now = js.Date.now()
        self.sent.extend((now, op["layer"], op["prop"], op["clock"]) for op in ops)
        del self.sent[:-1000]
        self.mesh.broadcast(datachannel.layout(ops))

    def channel_open(self, peer: str) -> None:
        self.mesh.send(peer, datachannel.layout(self.layout.snapshot()))

    def participants_changed(self) -> None:
        self.layout.present(self.mesh.participants, time.monotonic())
        self._changed()

    def receive(self, peer: str, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "layout" and isinstance(message.get("ops"), list):
            self._apply(peer, message["ops"])
        elif kind == "background-request" and message.get("id") in self.images:
            spawn(self._send_image(peer, message["id"], self.images[message["id"]]))
        elif kind == "background-chunk":
            self._receive_chunk(message)

    def _apply(self, peer: str, ops: list[Any]) -> None:
        changed = False
        now = js.Date.now()
        for op in ops:
            try:
                if self.layout.apply(op):
                    changed = True
                    self.applied.append((now, op["layer"], op["prop"], op["clock"]))
            except (ValueError, KeyError, TypeError):
                continue  # a malformed op from a buggy peer changes nothing
        del self.applied[:-1000]
        background = self.layout.stage().background
        if datachannel.is_image_id(background) and background not in self.images and background not in self.requested:
            self.requested.add(background)
            self.mesh.send(peer, datachannel.background_request(background))
        if changed:
            self._changed()

    def _changed(self) -> None:
        self.stage.changed()
        self.on_change()

    async def share(self, image: str, data: bytes) -> None:
        """Send a chosen image to every peer, then it may become the background."""
        self.images[image] = data
        peers = list(self.mesh.links)
        for index, peer in enumerate(peers):
            await self._send_image(peer, image, data, lambda share, index=index: self.on_progress((index + share) / len(peers)))
        self.on_progress(None)

    async def _send_image(self, peer: str, image: str, data: bytes, progress: Callable[[float], None] | None = None) -> None:
        chunks = datachannel.background_chunks(data)
        for index, chunk in enumerate(chunks):
            while self.mesh.buffered(peer) > MAX_BUFFERED:
                await asyncio.sleep(0.02)
            if not self.mesh.send(peer, chunk):
                return
            if progress is not None:
                progress((index + 1) / len(chunks))
            if index % 8 == 7:
                await asyncio.sleep(0)

    def _receive_chunk(self, message: dict[str, Any]) -> None:
        image, count = message.get("id"), message.get("count")
        if not isinstance(image, str) or image in self.images:
            return
        try:
            transfer = self.transfers.get(image) or self.transfers.setdefault(image, datachannel.Transfer(image, count))
            data = transfer.add(message)
        except ValueError:
            self.transfers.pop(image, None)
            self.on_progress(None)
            return
        self.on_progress(transfer.progress if data is None else None)
        if data is not None:
            del self.transfers[image]
            self.images[image] = data
            spawn(self._decode(image, data))

    async def _decode(self, image: str, data: bytes) -> None:
        blob = js.Blob.new(to_js([to_js(data)]), js_object({"type": "image/jpeg"}))
        self.stage.add_image(image, await js.createImageBitmap(blob))
        self.on_change()

    async def _keep_presence(self) -> None:
        # A peer away for a minute must be forgotten even when nothing else happens.
        while True:
            await asyncio.sleep(PRESENCE_EVERY_S)
            self.layout.present(self.mesh.participants, time.monotonic())

    def close(self) -> None:
        self._presence.cancel()
