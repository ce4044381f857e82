"""The relay's bookkeeping, in process: every way out of a socket gives back what it took, and a
writer that cannot deliver says so. A scripted socket stands in for Starlette's."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.datastructures import Address
from starlette.websockets import WebSocketDisconnect, WebSocketState

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
    """What `Hub.serve` uses of a WebSocket: messages to receive, what was sent, how it closed."""

    def __init__(self, room: str, *incoming: str, send_error: Exception | None = None) -> None:
        self.path_params = {"room": room}
        self.client = Address("192.0.2.7", 50000)
        self.application_state = WebSocketState.CONNECTING
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for text in incoming:
            self.inbox.put_nowait({"type": "websocket.receive", "text": text})
        self.sent: list[str] = []
        self.send_error = send_error
        self.close_code: int | None = None

    async def accept(self) -> None:
        self.application_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, text: str) -> None:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(text)

    async def close(self, code: int = 1000) -> None:
        self.close_code = code
        self.application_state = WebSocketState.DISCONNECTED
        self.drop()

    def drop(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})


def join_text(token: str) -> str:
    return json.dumps({"type": "join", "token": token, "name": "Ana"})


def writers() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Connection.write" and not t.done()]


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
        await hub.serve(ScriptedSocket(room, join_text(token), send_error=WebSocketDisconnect(1006)))  # type: ignore[arg-type]
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
        await hub.serve(socket)  # type: ignore[arg-type]
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
        serving = asyncio.create_task(hub.serve(ScriptedSocket(room, join_text(token))))  # type: ignore[arg-type]
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
        serving = asyncio.create_task(hub.serve(socket))  # type: ignore[arg-type]
        while not socket.sent:
            await asyncio.sleep(0.01)
        assert await broker.occupancy(room) == 1 and len(writers()) == 1
        socket.drop()
        await serving
        await assert_released(hub, broker, room)
    finally:
        await broker.close()


async def test_a_writer_that_cannot_deliver_logs_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    socket = ScriptedSocket("r", send_error=ValueError("cannot encode"))
    connection = Connection(socket, "r", Peer("p1", "Ana"))  # type: ignore[arg-type]
    socket.application_state = WebSocketState.CONNECTED
    connection.writer = asyncio.create_task(connection.write())
    with caplog.at_level(logging.ERROR, logger="clov.relay"):
        connection.push('{"type":"peer-left","peer":"p2"}')
        await asyncio.wait_for(connection.writer, 1)
    assert socket.close_code == 1011
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


async def test_the_outbox_limit_counts_bytes() -> None:
    socket = ScriptedSocket("r")
    socket.application_state = WebSocketState.CONNECTED
    connection = Connection(socket, "r", Peer("p1", "Ana"))  # type: ignore[arg-type]
    big = "x" * 60_000
    for _ in range(10):  # a client that has read nothing yet, well within 512 messages and 1 MiB
        connection.push(big)
    await asyncio.sleep(0.01)
    assert socket.close_code is None
    for _ in range(30):
        connection.push(big)
    await asyncio.sleep(0.01)
    assert socket.close_code == relay.CLOSE_TRY_AGAIN
