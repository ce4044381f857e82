"""Backgrounds, stills and clips over the data channels, as binary chunks (datachannel.py).

Sending is paced by each channel's buffer, so a big transfer never piles megabytes into
the browser's queue. Receiving keeps at most one transfer of each kind per sender: a sender
that announces a new one has given up the last, a sender's chunks can only ever touch its
own transfers, and a transfer that stalls (slower than MIN_BYTES_PER_S) is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import js

from frontend_py import datachannel
from frontend_py.datachannel import BinaryTransfer, Header
from frontend_py.mesh import Mesh

MAX_BUFFERED = 1 << 20  # bytes queued per data channel before a transfer waits
MIN_BYTES_PER_S = 32 * 1024  # a transfer slower than this on average has stalled
GRACE_S = 10.0


async def send(mesh: Mesh, peer: str, header: Header, data: Any, progress: Callable[[float], None] | None = None) -> bool:
    """Announce `header` to `peer`, then send `data` (a Uint8Array) in chunks; False if the
    peer went away meanwhile."""
    if not mesh.send(peer, header.message()):
        return False
    size = datachannel.BINARY_CHUNK_BYTES
    for index in range(header.chunks):
        while mesh.buffered(peer) > MAX_BUFFERED:
            await asyncio.sleep(0.02)
        payload = data.subarray(index * size, (index + 1) * size)
        chunk = js.Uint8Array.new(datachannel.BINARY_HEADER.size + int(payload.length))
        chunk.set(js.Uint8Array.new(datachannel.BINARY_HEADER.pack(header.transfer, index)), 0)
        chunk.set(payload, datachannel.BINARY_HEADER.size)
        if not mesh.send_bytes(peer, chunk):
            return False
        if progress is not None:
            progress((index + 1) / header.chunks)
    return True


class Incoming:
    """Transfers arriving. `on_complete(peer, header, data)` once one is whole;
    `on_progress(peer, header, fraction)` as chunks arrive; `on_drop(peer, header)` for one
    that broke, stalled or was replaced."""

    def __init__(
        self, on_complete: Callable[[str, Header, bytes], None],
        on_progress: Callable[[str, Header, float], None] = lambda _peer, _header, _fraction: None,
        on_drop: Callable[[str, Header], None] = lambda _peer, _header: None,
    ) -> None:
        self.on_complete, self.on_progress, self.on_drop = on_complete, on_progress, on_drop
        self.transfers: dict[tuple[str, type], BinaryTransfer] = {}
        self.deadlines: dict[tuple[str, type], float] = {}

    def announce(self, peer: str, header: Header) -> None:
        self.sweep()
        key = (peer, type(header))
        if key in self.transfers:
            self._drop(key)
        self.transfers[key] = BinaryTransfer(header)
        self.deadlines[key] = time.monotonic() + GRACE_S + header.bytes / MIN_BYTES_PER_S

    def sweep(self) -> None:
        """Drop the transfers past their deadline."""
        now = time.monotonic()
        for key in [key for key, deadline in self.deadlines.items() if deadline < now]:
            self._drop(key)

    def _drop(self, key: tuple[str, type]) -> None:
        transfer = self.transfers.pop(key)
        del self.deadlines[key]
        self.on_drop(key[0], transfer.header)

    def chunk(self, peer: str, data: bytes) -> None:
        chunk = datachannel.parse_binary(data)
        if chunk is None:
            return
        number, index, payload = chunk
        key = next((key for key, transfer in self.transfers.items() if key[0] == peer and transfer.header.transfer == number), None)
        if key is None:
            return
        transfer = self.transfers[key]
        try:
            whole = transfer.add(index, payload)
        except ValueError:
            self._drop(key)  # a sender that breaks its own transfer loses it, nobody else's
            return
        if whole is None:
            self.on_progress(peer, transfer.header, transfer.progress)
        else:
            del self.transfers[key], self.deadlines[key]
            self.on_complete(peer, transfer.header, whole)

    def forget(self, peer: str) -> None:
        for key in [key for key in self.transfers if key[0] == peer]:
            self._drop(key)
