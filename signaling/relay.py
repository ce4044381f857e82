"""The signaling socket `/ws/{room}`: join, relay of signals, presence.

Each socket gets an outbound queue drained by its own writer task, started only after the
`welcome` has been sent, so nothing reaches a joining client before its welcome and a slow
client never stalls the relay for anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from signaling import protocol
from signaling.broker import Broker, BrokerUnavailable, NoSuchRoom, RoomFull
from signaling.config import Settings
from signaling.invites import InvalidInvite, Invites
from signaling.protocol import Error, Join, Peer, PeerJoined, PeerLeft, ProtocolError, Signal, Welcome
from signaling.ratelimit import TokenBucket
from signaling.turn import ice_servers

log = logging.getLogger("clov.relay")

JOIN_TIMEOUT = 10.0
OUTBOX_LIMIT = 512
CLOSE_TRY_AGAIN = 1013
CLOSE_REJOIN = 1012


class Connection:
    """One joined socket: its peer, its room, and its outbound queue."""

    def __init__(self, websocket: WebSocket, room: str, peer: Peer) -> None:
        self.websocket = websocket
        self.room = room
        self.peer = peer
        self.id = secrets.token_hex(6)
        self.outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_LIMIT)
        self.writer: asyncio.Task[None] | None = None

    def push(self, text: str) -> None:
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("slow client dropped", extra={"room": self.room, "peer": self.peer.id})
            self.close_soon(CLOSE_TRY_AGAIN)

    def close_soon(self, code: int) -> None:
        asyncio.ensure_future(_close(self.websocket, code))

    async def write(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await self.websocket.send_text(await self.outbox.get())


class Hub:
    """This instance's joined sockets, indexed by room, and the broker's delivery target."""

    def __init__(self, settings: Settings, broker: Broker, invites: Invites) -> None:
        self.settings = settings
        self.broker = broker
        self.invites = invites
        self.rooms: dict[str, dict[str, Connection]] = {}

    async def deliver(self, room: str, to: str | None, exclude: str | None, text: str) -> None:
        local = self.rooms.get(room)
        if not local:
            return
        if to is not None:
            connection = local.get(to)
            if connection is not None:
                connection.push(text)
            return
        for peer_id, connection in local.items():
            if peer_id != exclude:
                connection.push(text)

    def memberships(self) -> dict[str, dict[str, str]]:
        return {room: {p: c.id for p, c in peers.items()} for room, peers in self.rooms.items()}

    async def heartbeat(self) -> None:
        """Refresh memberships forever; tell sockets whose membership was lost to rejoin."""
        interval = self.settings.member_ttl / 3
        while True:
            await asyncio.sleep(interval)
            try:
                lost = await self.broker.heartbeat(self.memberships())
            except BrokerUnavailable as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)})
                continue
            for room, peer in lost:
                connection = self.rooms.get(room, {}).get(peer)
                if connection is not None:
                    log.info("membership lost", extra={"room": room, "peer": peer})
                    connection.close_soon(CLOSE_REJOIN)

    async def serve(self, websocket: WebSocket) -> None:
        """Run one signaling socket from accept to close."""
        await websocket.accept()
        room = websocket.path_params["room"]
        limiter = TokenBucket(self.settings.message_rate, self.settings.message_burst)
        try:
            join = await self._receive_join(websocket, limiter)
            connection = await self._admit(websocket, room, join)
        except ProtocolError as exc:
            await _refuse(websocket, room, exc)
            return
        except (WebSocketDisconnect, asyncio.TimeoutError):
            await _close(websocket, 1000)
            return
        except BrokerUnavailable as exc:
            log.warning("join failed: broker unavailable", extra={"room": room, "error": str(exc)})
            await _close(websocket, CLOSE_TRY_AGAIN)
            return
        try:
            await self._relay(connection, limiter)
        except ProtocolError as exc:
            await _refuse(websocket, room, exc)
        finally:
            await self._part(connection)

    async def _receive_join(self, websocket: WebSocket, limiter: TokenBucket) -> Join:
        raw = await asyncio.wait_for(_receive(websocket), JOIN_TIMEOUT)
        limiter.allow()
        message = protocol.parse_client_message(raw)
        if not isinstance(message, Join):
            raise ProtocolError(protocol.BAD_MESSAGE, "the first message must be a join")
        return message

    async def _admit(self, websocket: WebSocket, room: str, join: Join) -> Connection:
        try:
            self.invites.verify(join.token, room)
        except InvalidInvite as exc:
            raise ProtocolError(protocol.INVALID_TOKEN, str(exc)) from exc
        if join.peer is not None:
            if not self.invites.check_resume(room, join.peer, join.resume or ""):
                raise ProtocolError(protocol.INVALID_TOKEN, "this rejoin is not valid; join again")
            peer = Peer(id=join.peer, name=join.name)
        else:
            peer = Peer(id=secrets.token_urlsafe(8), name=join.name)
        connection = Connection(websocket, room, peer)
        try:
            others, resumed = await self.broker.join(room, peer, protocol.CAPACITY, connection.id)
        except NoSuchRoom as exc:
            raise ProtocolError(protocol.NO_ROOM, "this room does not exist any more") from exc
        except RoomFull as exc:
            raise ProtocolError(protocol.ROOM_FULL, f"this room is full ({protocol.CAPACITY} people)") from exc
        local = self.rooms.setdefault(room, {})
        stale = local.get(peer.id)
        if stale is not None:
            stale.close_soon(CLOSE_REJOIN)
        local[peer.id] = connection
        welcome = Welcome(
            peer=peer.id,
            peers=others,
            ice_servers=ice_servers(self.settings, peer.id),
            resume=self.invites.resume_key(room, peer.id),
        )
        await websocket.send_text(protocol.encode(welcome))
        connection.writer = asyncio.create_task(connection.write())
        log.info(
            "peer joined",
            extra={"room": room, "peer": peer.id, "occupancy": len(others) + 1, "resumed": resumed},
        )
        if not resumed:
            await self.broker.broadcast(room, peer.id, protocol.encode(PeerJoined(peer=peer)))
        return connection

    async def _relay(self, connection: Connection, limiter: TokenBucket) -> None:
        websocket, room = connection.websocket, connection.room
        while True:
            try:
                raw = await _receive(websocket)
            except WebSocketDisconnect:
                return
            if not limiter.allow():
                raise ProtocolError(protocol.RATE_LIMITED, "too many messages; slow down")
            message = protocol.parse_client_message(raw)
            if isinstance(message, Join):
                raise ProtocolError(protocol.BAD_MESSAGE, "already joined")
            assert isinstance(message, Signal) and message.to is not None
            relayed = protocol.encode(Signal(sender=connection.peer.id, data=message.data))
            local = self.rooms.get(room, {}).get(message.to)
            if local is not None:
                # Both sockets are here: no broker round trip (with Redis, the common case
                # costs no Redis command at all).
                local.push(relayed)
                continue
            try:
                delivered = await self.broker.send(room, message.to, relayed)
            except BrokerUnavailable:
                delivered = False
                reason = "the relay is unavailable; try again shortly"
            else:
                reason = f"no peer {message.to} in this room"
            if not delivered:
                # Not fatal: the target may have left a moment ago.
                connection.push(protocol.encode(Error(code=protocol.BAD_MESSAGE, message=reason)))

    async def _part(self, connection: Connection) -> None:
        room, peer = connection.room, connection.peer.id
        local = self.rooms.get(room, {})
        if local.get(peer) is connection:
            del local[peer]
        if not local:
            self.rooms.pop(room, None)
        if connection.writer is not None:
            connection.writer.cancel()
        try:
            if await self.broker.leave(room, peer, connection.id):
                await self.broker.broadcast(room, peer, protocol.encode(PeerLeft(peer=peer)))
        except BrokerUnavailable as exc:
            # The membership expires by itself; the heartbeat of a peer still there announces it.
            log.warning("leave not recorded", extra={"room": room, "peer": peer, "error": str(exc)})
        log.info("peer left", extra={"room": room, "peer": peer})


async def _receive(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        text = (message.get("bytes") or b"").decode("utf-8", "replace")
    return text


async def _refuse(websocket: WebSocket, room: str, error: ProtocolError) -> None:
    log.info("refused", extra={"room": room, "code": error.code})
    with contextlib.suppress(Exception):
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.send_text(protocol.encode(Error(code=error.code, message=error.message)))
    await _close(websocket, error.close_code)


async def _close(websocket: WebSocket, code: int) -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.close(code)
