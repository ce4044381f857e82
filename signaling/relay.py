"""The signaling socket `/ws/{room}`: join, relay of signals, presence.

A message for a socket is written at once, by whichever task has it, while the socket takes
writes. When its transport pushes back (a client that does not read), that write finishes in a
task of the socket's own and what follows waits in a bounded backlog behind it: a slow client
never stalls the relay for anyone else, and one too far behind is dropped. Nothing reaches a
joining client before its welcome. Where the server offers it (signaling/wsprotocol.py), a
signal from a joined socket to another socket of this instance is relayed by a plain call from
the server's reading of the frame, and written by one: everything else (joins, signals to other
instances, anything malformed or over the rate limit) goes through the socket's loop, in order
with the rest. However a socket ends (close, drop, refusal, broker failure,
cancellation), `Hub._part` gives back what its join took.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Coroutine
from time import monotonic, perf_counter
from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from signaling import protocol
from signaling.broker import Broker, BrokerUnavailable, NoSuchRoom, RoomFull
from signaling.config import Settings
from signaling.invites import InvalidInvite, Invites
from signaling.metrics import Metrics
from signaling.protocol import (
    Error,
    IceServers,
    Join,
    Peer,
    PeerJoined,
    PeerLeft,
    ProtocolError,
    Signal,
    Welcome,
)
from signaling.ratelimit import LimitReached, OpenLimit, TokenBucket, client_key
from signaling.turn import ice_servers
from signaling.wsprotocol import DIRECT_TEXT, DirectText

log = logging.getLogger("clov.relay")

JOIN_TIMEOUT = 10.0
# A client this far behind in reading is dropped rather than buffered without bound.
OUTBOX_LIMIT = 512
OUTBOX_BYTES = 1024 * 1024
CLOSE_SERVER_ERROR = 1011
CLOSE_REJOIN = 1012
CLOSE_TRY_AGAIN = 1013
# What sending on a socket that is going away raises: Starlette's disconnect, the server's
# (uvicorn's ClientDisconnected is an OSError), or uvicorn's state error when the closing
# handshake began under us (a keepalive timeout). Its reader sees the end too.
_GONE = (WebSocketDisconnect, OSError, RuntimeError)


class Connection:
    """One joined socket: its peer, its room, and what waits to be written to it."""

    def __init__(
        self,
        websocket: WebSocket,
        send: Send,
        room: str,
        peer: Peer,
        metrics: Metrics | None = None,
        direct_text: DirectText | None = None,
    ) -> None:
        self.websocket = websocket
        self.send = send
        self.direct_text = direct_text  # the server's own reading and writing, where it offers them
        self.room = room
        self.peer = peer
        self.id = secrets.token_hex(6)
        # (text, bytes, when a relayed signal was received here, else 0.0)
        self.backlog: deque[tuple[str, int, float]] = deque()
        self.backlog_bytes = 0
        self.latency = metrics.relay_latency if metrics is not None else None
        # Writes go out in place: the welcome is sent and nothing waits in the backlog.
        self.direct = False
        self.writer: asyncio.Task[None] | None = None  # drains the backlog while `direct` is off
        self.admitted = False  # the broker holds a membership for this socket
        self.credentials_given = monotonic()  # when its TURN credentials were made
        self._closing: asyncio.Task[None] | None = None

    def push(self, text: str, received: float = 0.0) -> None:
        if self._closing is not None:
            return
        if self.direct:
            self._write_now(text, received)
            return
        size = len(text.encode())
        if len(self.backlog) >= OUTBOX_LIMIT or self.backlog_bytes + size > OUTBOX_BYTES:
            log.warning("slow client dropped", extra={"room": self.room, "peer": self.peer.id})
            self.close_soon(CLOSE_TRY_AGAIN)
            return
        self.backlog.append((text, size, received))
        self.backlog_bytes += size

    def start(self) -> None:
        """The welcome is out: send what waited for it, then write in place."""
        if self.backlog:
            self.writer = asyncio.create_task(self.drain())
        else:
            self.direct = True

    def close_soon(self, code: int) -> None:
        """Close from code that cannot wait; the first code given wins."""
        if self._closing is None:
            self._closing = asyncio.create_task(_close(self.websocket, code))

    def _write_now(self, text: str, received: float) -> None:
        # Python 3.11 has no eager tasks: without the server's direct write, the send is stepped
        # by hand, and completes right here unless the transport pushes back; only then does it
        # continue in a task.
        try:
            if self.direct_text is not None and self.direct_text.write_text(text):
                if received and self.latency is not None:
                    self.latency.observe(perf_counter() - received)
                return
            step = self.send({"type": "websocket.send", "text": text})
            waiting = step.send(None)
        except StopIteration:
            if received and self.latency is not None:
                self.latency.observe(perf_counter() - received)
            return
        except _GONE:
            return
        except Exception:
            log.exception("write failed", extra={"room": self.room, "peer": self.peer.id})
            self.close_soon(CLOSE_SERVER_ERROR)
            return
        self.direct = False
        self.writer = asyncio.create_task(self.drain(step, waiting, received))

    async def drain(
        self, blocked: Coroutine[Any, Any, None] | None = None, waiting: object = None, received: float = 0.0
    ) -> None:
        """Finish the write that pushed back, if any, then the backlog, in order; then write in place."""
        try:
            if blocked is not None:
                await _finish(blocked, waiting)
                if received and self.latency is not None:
                    self.latency.observe(perf_counter() - received)
            while self.backlog:
                text, size, received = self.backlog.popleft()
                self.backlog_bytes -= size
                if received and self.latency is not None:
                    self.latency.observe(perf_counter() - received)
                await self.send({"type": "websocket.send", "text": text})
        except _GONE:
            return
        except Exception:
            log.exception("writer failed", extra={"room": self.room, "peer": self.peer.id})
            await _close(self.websocket, CLOSE_SERVER_ERROR)
            return
        self.writer = None
        self.direct = True


async def _finish(step: Coroutine[Any, Any, None], waiting: object) -> None:
    """Run to its end a coroutine stepped by hand, which now waits on `waiting`."""
    while True:
        try:
            if waiting is None:  # a bare yield: let the loop run once
                await asyncio.sleep(0)
            else:  # a future; if it failed, resuming the step raises that where the step handles it
                await asyncio.wait((waiting,))  # type: ignore[arg-type]
        except asyncio.CancelledError:
            step.close()
            raise
        try:
            waiting = step.send(None)
        except StopIteration:
            return


class Hub:
    """This instance's joined sockets, indexed by room, and the broker's delivery target."""

    def __init__(
        self, settings: Settings, broker: Broker, invites: Invites, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics = metrics if metrics is not None else Metrics()
        metrics.watch_rooms(lambda: len(self.rooms))
        self.broker = broker
        self.invites = invites
        self.rooms: dict[str, dict[str, Connection]] = {}
        self.unjoined = OpenLimit(settings.unjoined_per_address, settings.unjoined_max)

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
            self.renew_credentials()
            try:
                lost = await self.broker.heartbeat(self.memberships())
            except BrokerUnavailable as exc:
                self.metrics.broker_errors.inc()
                log.warning("heartbeat failed", extra={"error": str(exc)})
                continue
            for room, peer in lost:
                connection = self.rooms.get(room, {}).get(peer)
                if connection is not None:
                    log.info("membership lost", extra={"room": room, "peer": peer})
                    connection.close_soon(CLOSE_REJOIN)

    def renew_credentials(self) -> None:
        """Send fresh TURN credentials to members whose credentials have lived half their time.

        Credentials are checked when a relay is allocated: a member of a long booth still
        needs working ones for a newcomer or an ICE restart, hours after its welcome.
        """
        if not (self.settings.turn_urls and self.settings.turn_secret):
            return
        now = monotonic()
        for connections in self.rooms.values():
            for connection in connections.values():
                if now - connection.credentials_given >= self.settings.turn_ttl / 2:
                    connection.credentials_given = now
                    servers = ice_servers(self.settings, connection.peer.id)
                    connection.push(protocol.encode(IceServers(ice_servers=servers)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run one signaling socket from accept to close (an ASGI app: the relay reads and
        writes the server's own receive and send, Starlette's WebSocket does the rest)."""
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        metrics = self.metrics
        metrics.open_sockets.inc()
        room = websocket.path_params["room"]
        address = client_key(websocket.client.host if websocket.client else "unknown")
        limiter = TokenBucket(self.settings.message_rate, self.settings.message_burst)
        connection: Connection | None = None
        try:
            with self.unjoined.hold(address):
                join = await self._receive_join(websocket, limiter)
            direct_text = (scope.get("extensions") or {}).get(DIRECT_TEXT)
            connection = self._connection(websocket, send, room, join, direct_text)
            await self._admit(connection)
            await self._relay(connection, receive, limiter)
        except ProtocolError as exc:
            if connection is None or not connection.admitted:
                metrics.joins[exc.code].inc()
            metrics.refused(exc.close_code)
            await _refuse(websocket, room, exc)
        except (TimeoutError, WebSocketDisconnect):
            if connection is None or not connection.admitted:
                metrics.joins["gone"].inc()
            await _close(websocket, 1000)
        except LimitReached as exc:
            metrics.joins["too_many_unjoined"].inc()
            metrics.refused(CLOSE_TRY_AGAIN)
            log.warning("too many sockets waiting to join", extra={"room": room, "error": str(exc)})
            await _close(websocket, CLOSE_TRY_AGAIN)
        except BrokerUnavailable as exc:
            metrics.broker_errors.inc()
            if connection is None or not connection.admitted:
                metrics.joins["broker_unavailable"].inc()
            metrics.refused(CLOSE_TRY_AGAIN)
            log.warning("broker unavailable", extra={"room": room, "error": str(exc)})
            await _close(websocket, CLOSE_TRY_AGAIN)
        finally:
            metrics.open_sockets.dec()
            if connection is not None:
                await self._part(connection)

    async def _receive_join(self, websocket: WebSocket, limiter: TokenBucket) -> Join:
        raw = await asyncio.wait_for(_receive(websocket), JOIN_TIMEOUT)
        limiter.allow()
        message = protocol.parse_client_message(raw)
        if not isinstance(message, Join):
            raise ProtocolError(protocol.BAD_MESSAGE, "the first message must be a join")
        return message

    def _connection(
        self, websocket: WebSocket, send: Send, room: str, join: Join, direct_text: DirectText | None
    ) -> Connection:
        """The connection a join asks for, once its invite (and rejoin proof) hold."""
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
        return Connection(websocket, send, room, peer, self.metrics, direct_text)

    async def _admit(self, connection: Connection) -> None:
        """Take a seat in the broker, then welcome the peer and announce it."""
        room, peer = connection.room, connection.peer
        try:
            others, resumed = await self.broker.join(room, peer, protocol.CAPACITY, connection.id)
        except NoSuchRoom as exc:
            raise ProtocolError(protocol.NO_ROOM, "this room does not exist any more") from exc
        except RoomFull as exc:
            raise ProtocolError(protocol.ROOM_FULL, f"this room is full ({protocol.CAPACITY} people)") from exc
        connection.admitted = True
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
            ice_transport_policy=self.settings.ice_transport_policy,
        )
        await connection.websocket.send_text(protocol.encode(welcome))
        connection.start()
        self.metrics.joins["resumed" if resumed else "ok"].inc()
        log.info(
            "peer joined",
            extra={"room": room, "peer": peer.id, "occupancy": len(others) + 1, "resumed": resumed},
        )
        if not resumed:
            await self.broker.broadcast(room, peer.id, protocol.encode(PeerJoined(peer=peer)))

    async def _relay(self, connection: Connection, receive: Receive, limiter: TokenBucket) -> None:
        room, sender = connection.room, connection.peer.id
        relayed_total, latency = self.metrics.messages_relayed, self.metrics.relay_latency
        # The last signal `relay_here` stamped and left to this loop: the loop takes it next.
        declined: tuple[str, tuple[str, str]] | None = None

        def relay_here(raw: str) -> bool:
            """Relay a well-formed signal to a socket of this instance; False: leave it to the loop."""
            nonlocal declined
            received = perf_counter()
            stamped = protocol.relayed_signal(raw, sender)
            if stamped is None:
                return False
            local = self.rooms.get(room)
            target = local.get(stamped[0]) if local else None
            if target is None or not limiter.allow():
                declined = raw, stamped
                return False
            target.push(stamped[1], received)
            relayed_total.inc()
            return True

        direct_text = connection.direct_text
        try:
            while True:
                if direct_text is not None:
                    direct_text.text_handler = relay_here
                message = await receive()
                if direct_text is not None:
                    direct_text.text_handler = None
                if message["type"] != "websocket.receive":  # websocket.disconnect
                    return
                received = perf_counter()
                if not limiter.allow():
                    raise ProtocolError(protocol.RATE_LIMITED, "too many messages; slow down")
                raw = _text(message)
                if declined is not None and declined[0] is raw:
                    stamped: tuple[str, str] | None = declined[1]
                else:
                    stamped = protocol.relayed_signal(raw, sender)
                declined = None
                if stamped is None:
                    parsed = protocol.parse_client_message(raw)
                    if isinstance(parsed, Join):
                        raise ProtocolError(protocol.BAD_MESSAGE, "already joined")
                    assert parsed.to is not None
                    stamped = parsed.to, protocol.encode(Signal(sender=sender, data=parsed.data))
                to, relayed = stamped
                local = self.rooms.get(room, {}).get(to)
                if local is not None:
                    # Both sockets are here: no broker round trip (with Redis, the common case
                    # costs no Redis command at all).
                    local.push(relayed, received)
                    relayed_total.inc()
                    continue
                try:
                    delivered = await self.broker.send(room, to, relayed)
                except BrokerUnavailable:
                    self.metrics.broker_errors.inc()
                    delivered = False
                    reason = "the relay is unavailable; try again shortly"
                else:
                    reason = f"no peer {to} in this room"
                if delivered:
                    latency.observe(perf_counter() - received)
                    relayed_total.inc()
                else:
                    # Not fatal: the target may have left a moment ago.
                    connection.push(protocol.encode(Error(code=protocol.BAD_MESSAGE, message=reason)))
        finally:
            if direct_text is not None:
                direct_text.text_handler = None

    async def _part(self, connection: Connection) -> None:
        """Give back what the socket took: its hub entry, its writer, its membership."""
        room, peer = connection.room, connection.peer.id
        local = self.rooms.get(room, {})
        if local.get(peer) is connection:
            del local[peer]
            if not local:
                del self.rooms[room]
        if connection.writer is not None:
            connection.writer.cancel()
        if not connection.admitted:
            return
        try:
            if await self.broker.leave(room, peer, connection.id):
                await self.broker.broadcast(room, peer, protocol.encode(PeerLeft(peer=peer)))
        except BrokerUnavailable as exc:
            self.metrics.broker_errors.inc()
            # The membership expires by itself; the heartbeat of a peer still there announces it.
            log.warning("leave not recorded", extra={"room": room, "peer": peer, "error": str(exc)})
        log.info("peer left", extra={"room": room, "peer": peer})


async def _receive(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return _text(message)


def _text(message: dict[str, Any]) -> str:
    text = message.get("text")
    if text is None:
        text = (message.get("bytes") or b"").decode("utf-8", "replace")
    return text


async def _refuse(websocket: WebSocket, room: str, error: ProtocolError) -> None:
    log.info("refused", extra={"room": room, "code": error.code})
    if websocket.application_state == WebSocketState.CONNECTED:
        try:
            await websocket.send_text(protocol.encode(Error(code=error.code, message=error.message)))
        except _GONE:
            return
    await _close(websocket, error.close_code)


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        try:
            await websocket.close(code)
        except _GONE:
            pass  # closed already from the other end
