"""Stills and clips over the data channels, as binary chunks (datachannel.py).

Sending is paced by each channel's buffer, so a big transfer never piles megabytes into
the browser's queue. Receiving keeps at most one transfer of each kind per sender: a sender
that announces a new one has given up the last, and a sender's chunks can only ever touch
its own transfers.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import js

from frontend_py import datachannel
from frontend_py.datachannel import BinaryTransfer, Header
from frontend_py.mesh import Mesh

MAX_BUFFERED = 1 << 20  # bytes queued per data channel before a transfer waits


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
    `on_progress(peer, header, fraction)` as chunks arrive."""

    def __init__(
        self, on_complete: Callable[[str, Header, bytes], None],
        on_progress: Callable[[str, Header, float], None] = lambda _peer, _header, _fraction: None,
    ) -> None:
        self.on_complete, self.on_progress = on_complete, on_progress
        self.transfers: dict[tuple[str, type], BinaryTransfer] = {}

    def announce(self, peer: str, header: Header) -> None:
        self.transfers[peer, type(header)] = BinaryTransfer(header)

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
            del self.transfers[key]  # a sender that breaks its own transfer loses it, nobody else's
            return
        if whole is None:
            self.on_progress(peer, transfer.header, transfer.progress)
        else:
            del self.transfers[key]
            self.on_complete(peer, transfer.header, whole)

    def forget(self, peer: str) -> None:
        for key in [key for key in self.transfers if key[0] == peer]:
            del self.transfers[key]
