"""The broker: where rooms and their members live, and how messages reach them.

Two implementations share this interface: `MemoryBroker` (one process, the default) and
`RedisBroker` (any number of server processes on one Redis). A server instance hands the
broker a `Deliver` callback; the broker calls it for every message meant for this instance's
own sockets, whichever instance sent it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from signaling.protocol import Peer

# deliver(room, to, exclude, text): `to` set: one peer; else every member but `exclude`.
Deliver = Callable[[str, str | None, str | None, str], Awaitable[None]]


class BrokerUnavailable(Exception):
    """The broker's backing store does not answer."""


class NoSuchRoom(Exception):
    pass


class RoomFull(Exception):
    pass


class Broker(ABC):
    """Rooms, membership with capacity, and the relay between members."""

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        return None

    @abstractmethod
    async def ping(self) -> None:
        """Return when the broker answers; raise `BrokerUnavailable` otherwise."""

    @abstractmethod
    async def create_room(self, room: str, ttl: int) -> None:
        """Create a room that lives `ttl` seconds."""

    @abstractmethod
    async def occupancy(self, room: str) -> int | None:
        """Members in `room`, or None when there is no such room."""

    @abstractmethod
    async def join(self, room: str, peer: Peer, capacity: int, conn: str) -> tuple[list[Peer], bool]:
        """Add `peer`, held by socket `conn`, atomically if the room has space.

        Returns the other members and whether `peer` was a member already (a rejoin after a
        dropped socket, which takes over the membership and needs no space). Raises
        `NoSuchRoom` or `RoomFull`. The caller announces a new member with `broadcast`, and
        calls `leave` only after a join that returned: one that raised keeps nothing for `conn`.
        """

    @abstractmethod
    async def leave(self, room: str, peer: str, conn: str) -> bool:
        """Remove `peer` if socket `conn` still holds it; True if removed (then announce it)."""

    @abstractmethod
    async def send(self, room: str, to: str, text: str) -> bool:
        """Deliver `text` to member `to` of `room`; False when `to` is not a member."""

    @abstractmethod
    async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
        """Deliver `text` to every member of `room` except `exclude`."""

    async def heartbeat(self, local: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
        """Keep this instance's members (room -> peer id -> conn) alive.

        Returns the (room, peer) memberships this instance lost (expired, dropped by the store,
        or taken over by a rejoin elsewhere), so their sockets can be closed. Brokers without
        expiry lose nothing.
        """
        return []
