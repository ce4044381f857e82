"""The in-memory broker: one server process, no external store."""

from __future__ import annotations

import time

from signaling.broker import Broker, NoSuchRoom, RoomFull
from signaling.protocol import Peer


class MemoryBroker(Broker):
    """Rooms in dictionaries; the event loop makes every operation atomic."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._members: dict[str, dict[str, tuple[str, Peer]]] = {}

    async def ping(self) -> None:
        return None

    async def create_room(self, room: str, ttl: int) -> None:
        self._drop_expired_rooms()
        self._expiry[room] = time.time() + ttl
        self._members.setdefault(room, {})

    async def occupancy(self, room: str) -> int | None:
        if not self._exists(room):
            return None
        return len(self._members[room])

    async def join(self, room: str, peer: Peer, capacity: int, conn: str) -> tuple[list[Peer], bool]:
        if not self._exists(room):
            raise NoSuchRoom(room)
        members = self._members[room]
        resumed = peer.id in members
        if not resumed and len(members) >= capacity:
            raise RoomFull(room)
        others = [member for peer_id, (_, member) in members.items() if peer_id != peer.id]
        members[peer.id] = (conn, peer)
        return others, resumed

    async def leave(self, room: str, peer: str, conn: str) -> bool:
        members = self._members.get(room, {})
        if peer not in members or members[peer][0] != conn:
            return False
        del members[peer]
        return True

    async def send(self, room: str, to: str, text: str) -> bool:
        if to not in self._members.get(room, ()):
            return False
        await self._deliver(room, to, None, text)
        return True

    async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
        await self._deliver(room, None, exclude, text)

    def _exists(self, room: str) -> bool:
        expiry = self._expiry.get(room)
        return expiry is not None and (expiry > time.time() or bool(self._members[room]))

    def _drop_expired_rooms(self) -> None:
        now = time.time()
        for room in [r for r, e in self._expiry.items() if e <= now and not self._members[r]]:
            del self._expiry[room], self._members[room]
