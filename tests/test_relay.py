"""The relay's bookkeeping, in process: every way out of a socket gives back what it took, and a
write that cannot be delivered says so, and a client that stops reading stalls no one. A
scripted ASGI socket stands in for the server's."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from signaling import relay
from signaling.broker import Broker, BrokerUnavailable
from signaling.config import Settings
from signaling.invites import Invites
from signaling.memorybroker import MemoryBroker
from signaling.protocol import Peer
from signaling.redisbroker import RedisBroker
from signaling.relay import Connection, Hub
from tests.conftest import SECRET

pytestmark = pytest.mark.anyio


class ScriptedSocket:
    """The ASGI side of one signaling socket, as the server would drive `Hub`: messages to
    receive, what was sent, how it closed. `blocked` holds every text send until it is set,
    like a transport whose client stops reading."""

    def __init__(self, room: str, *incoming: str, send_error: Exception | None = None) -> None:
        self.scope = {
            "type": "websocket", "path": f"/ws/{room}", "headers": [], "path_params": {"room": room},
            "client": ("192.0.2.7", 50000),
        }
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        for text in incoming:
            self.inbox.put_nowait({"type": "websocket.receive", "text": text})
        self.sent: list[str] = []
        self.send_error = send_error
        self.blocked: asyncio.Event | None = None
        self.close_code: int | None = None

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            if self.blocked is not None:
                await self.blocked.wait()
            if self.send_error is not None:
                raise self.send_error
            self.sent.append(message["text"])
        elif message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.drop()

    def drop(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})

    def serve(self, hub: Hub) -> Coroutine[Any, Any, None]:
        return hub(self.scope, self.receive, self.send)  # type: ignore[arg-type]

    def connection(self, peer: str = "p1") -> Connection:
        """A joined socket's connection, its welcome sent."""
        websocket = WebSocket(self.scope, self.receive, self.send)  # type: ignore[arg-type]
        websocket.application_state = WebSocketState.CONNECTED
        connection = Connection(websocket, self.send, "r", Peer(peer, "Ana"))  # type: ignore[arg-type]
        connection.start()
        return connection


def join_text(token: str) -> str:
    return json.dumps({"type": "join", "token": token, "name": "Ana"})


def writers() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Connection.drain" and not t.done()]


@pytest.fixture(params=["memory", "redis", "cluster"])
def broker_class(request: pytest.FixtureRequest) -> Iterator[type[Broker]]:
    if request.param == "memory":
        yield MemoryBroker
        return
    cluster = request.param == "cluster"
    url = request.getfixturevalue("redis_cluster" if cluster else "redis_server").url

    class LocalRedis(RedisBroker):
        def __init__(self) -> None:
            super().__init__(url, member_ttl=30, cluster=cluster)

    yield LocalRedis


async def start_hub(broker: Broker) -> tuple[Hub, str, str]:
    """A hub on `broker` and a fresh room: (hub, room, invite token)."""
    invites = Invites(SECRET, 3600)
    hub = Hub(Settings.from_env({}), broker, invites)
    await broker.start(hub.deliver)
    room = secrets.token_urlsafe(9)
    await broker.create_room(room, 3600)
    return hub, room, invites.issue(room)[0]


async def assert_released(hub: Hub, broker: Broker, room: str) -> None:
    assert await broker.occupancy(room) == 0
    assert hub.rooms == {}
    await asyncio.sleep(0)
    assert writers() == []


async def test_a_socket_lost_before_its_welcome_gives_its_seat_back(broker_class) -> None:  # type: ignore[no-untyped-def]
    broker = broker_class()
    hub, room, token = await start_hub(broker)
    try:
        await ScriptedSocket(room, join_text(token), send_error=WebSocketDisconnect(1006)).serve(hub)
        await assert_released(hub, broker, room)
    finally:
        await broker.close()


async def test_a_broker_failure_after_admission_gives_the_seat_back(broker_class) -> None:  # type: ignore[no-untyped-def]
    class Failing(broker_class):  # type: ignore[misc, valid-type]
        async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
            raise BrokerUnavailable("publish failed")

    broker = Failing()
    hub, room, token = await start_hub(broker)
    try:
        socket = ScriptedSocket(room, join_text(token))
        await socket.serve(hub)
        assert json.loads(socket.sent[0])["type"] == "welcome"
        assert socket.close_code == relay.CLOSE_TRY_AGAIN
        await assert_released(hub, broker, room)
    finally:
        await broker.close()


async def test_a_socket_cancelled_while_joining_gives_its_seat_back(broker_class) -> None:  # type: ignore[no-untyped-def]
    announcing = asyncio.Event()

    class Stalling(broker_class):  # type: ignore[misc, valid-type]
        async def broadcast(self, room: str, exclude: str | None, text: str) -> None:
            if not announcing.is_set():  # the peer-joined announcement; the peer-left goes through
                announcing.set()
                await asyncio.Event().wait()
            await super().broadcast(room, exclude, text)

    broker = Stalling()
    hub, room, token = await start_hub(broker)
    try:
        serving = asyncio.create_task(ScriptedSocket(room, join_text(token)).serve(hub))
        await announcing.wait()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await assert_released(hub, broker, room)
    finally:
        await broker.close()


async def test_a_closed_socket_gives_everything_back(broker_class) -> None:  # type: ignore[no-untyped-def]
    broker = broker_class()
    hub, room, token = await start_hub(broker)
    try:
        socket = ScriptedSocket(room, join_text(token))
        serving = asyncio.create_task(socket.serve(hub))
        while not socket.sent:
            await asyncio.sleep(0.01)
        assert await broker.occupancy(room) == 1 and len(hub.rooms[room]) == 1
        socket.drop()
        await serving
        await assert_released(hub, broker, room)
    finally:
        await broker.close()


async def test_a_write_that_fails_logs_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    socket = ScriptedSocket("r", send_error=ValueError("cannot encode"))
    connection = socket.connection()
    with caplog.at_level(logging.ERROR, logger="clov.relay"):
        connection.push('{"type":"peer-left","peer":"p2"}')
        await asyncio.sleep(0.01)
    assert socket.close_code == 1011
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


async def test_a_write_that_fails_after_pushing_back_logs_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    socket = ScriptedSocket("r", send_error=ValueError("cannot encode"))
    socket.blocked = asyncio.Event()
    connection = socket.connection()
    with caplog.at_level(logging.ERROR, logger="clov.relay"):
        connection.push('{"type":"peer-left","peer":"p2"}')
        assert connection.writer is not None
        socket.blocked.set()
        await asyncio.wait_for(connection.writer, 1)
    assert socket.close_code == 1011
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


async def test_a_client_that_stops_reading_stalls_no_one_and_keeps_its_order() -> None:
    slow, fast = ScriptedSocket("r"), ScriptedSocket("r")
    slow.blocked = asyncio.Event()
    slow_connection, fast_connection = slow.connection("p1"), fast.connection("p2")
    for n in range(5):
        slow_connection.push(f'{{"n":{n}}}')  # returns at once, the first write waiting in a task
        fast_connection.push(f'{{"n":{n}}}')
    assert fast.sent == [f'{{"n":{n}}}' for n in range(5)]
    assert slow.sent == [] and len(slow_connection.backlog) == 4
    slow.blocked.set()
    assert slow_connection.writer is not None
    await asyncio.wait_for(slow_connection.writer, 1)
    slow_connection.push('{"n":5}')  # written in place again
    assert slow.sent == [f'{{"n":{n}}}' for n in range(6)] and slow_connection.writer is None


async def test_the_outbox_limit_counts_bytes() -> None:
    socket = ScriptedSocket("r")
    socket.blocked = asyncio.Event()  # a client that has read nothing yet
    connection = socket.connection()
    big = "x" * 60_000
    for _ in range(10):  # well within 512 messages and 1 MiB
        connection.push(big)
    await asyncio.sleep(0.01)
    assert socket.close_code is None
    for _ in range(30):
        connection.push(big)
    await asyncio.sleep(0.01)
    assert socket.close_code == relay.CLOSE_TRY_AGAIN
    assert len(connection.backlog) < 20  # dropped, not buffered: the rest was never queued


async def test_nothing_reaches_a_joining_client_before_its_welcome() -> None:
    socket = ScriptedSocket("r")
    websocket = WebSocket(socket.scope, socket.receive, socket.send)  # type: ignore[arg-type]
    websocket.application_state = WebSocketState.CONNECTED
    connection = Connection(websocket, socket.send, "r", Peer("p1", "Ana"))  # type: ignore[arg-type]
    connection.push('{"n":1}')
    assert socket.sent == []
    socket.sent.append("welcome")  # what Hub._admit sends before it starts the connection
    connection.start()
    assert connection.writer is not None
    await asyncio.wait_for(connection.writer, 1)
    connection.push('{"n":2}')
    assert socket.sent == ["welcome", '{"n":1}', '{"n":2}']
