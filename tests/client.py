"""A small signaling client for tests: real HTTP, real WebSockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection


def create_room(http: str) -> dict[str, Any]:
    response = httpx.post(http + "/api/rooms")
    assert response.status_code == 201, response.text
    return response.json()


class Peer:
    """One signaling socket and what it received."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.id: str | None = None
        self.welcome: dict[str, Any] | None = None

    @classmethod
    async def connect(cls, ws: str, room: str) -> Peer:
        return cls(await websockets.connect(f"{ws}/ws/{room}", max_size=None))

    @classmethod
    async def join(cls, ws: str, room: str, token: str, name: str = "Ana") -> Peer:
        peer = await cls.connect(ws, room)
        reply = await peer.request({"type": "join", "token": token, "name": name})
        assert reply["type"] == "welcome", reply
        peer.welcome, peer.id = reply, reply["peer"]
        return peer

    def rejoin_message(self, token: str, name: str) -> dict[str, Any]:
        """The join that reclaims this peer's id after its socket dropped."""
        assert self.welcome is not None
        return {"type": "join", "token": token, "name": name, "peer": self.id, "resume": self.welcome["resume"]}

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def request(self, message: dict[str, Any] | str | bytes) -> dict[str, Any]:
        await self.send(message)
        return await self.receive()

    async def receive_until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """Skip other messages (presence, say) until one of type `kind` arrives."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.receive(timeout)
                if message["type"] == kind:
                    return message

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """Drain until the server closes; return its close code."""
        try:
            async with asyncio.timeout(timeout):
                async for _ in self.connection:
                    pass
        except websockets.ConnectionClosed:
            pass
        return self.connection.close_code

    async def close(self) -> None:
        await self.connection.close()
