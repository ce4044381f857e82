"""Bad input: each gets its error code and close code while the server keeps serving others."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from signaling.invites import Invites
from tests.client import Peer, create_room
from tests.conftest import SECRET, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
async def bystanders(server):  # type: ignore[no-untyped-def]
    """Two joined peers in another room; after each bad input they must still relay."""
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    bo = await Peer.join(server.ws, room["room"], room["token"], "Bo")
    await ana.receive_until("peer-joined")
    yield ana, bo
    await ana.close()
    await bo.close()


async def assert_still_serving(bystanders) -> None:  # type: ignore[no-untyped-def]
    ana, bo = bystanders
    await bo.send({"type": "signal", "to": ana.id, "data": {"ok": True}})
    assert await ana.receive_until("signal") == {"type": "signal", "from": bo.id, "data": {"ok": True}}


async def refused(server, room: str, first: str | bytes, then: str | bytes | None = None, token=None):  # type: ignore[no-untyped-def]
    """Send `first` (and, after a successful join with `token`, `then`); return (error, close code)."""
    peer = await Peer.connect(server.ws, room)
    if then is not None:
        welcome = await peer.request(first)
        assert welcome["type"] == "welcome", welcome
        await peer.send(then)
    else:
        await peer.send(first)
    reply = await peer.receive_until("error")
    return reply, await peer.closed_with()


def join(token: str, name: str = "Eve") -> str:
    return json.dumps({"type": "join", "token": token, "name": name})


BAD_FIRST_MESSAGES = [
    pytest.param("not json at all", id="non-json"),
    pytest.param(b"\xff\xfe\x00binary", id="binary-garbage"),
    pytest.param("[1, 2, 3]", id="array"),
    pytest.param('{"type": 5}', id="type-not-string"),
    pytest.param('{"type": "dance"}', id="unknown-type"),
    pytest.param('{"type": "join", "token": 7, "name": "Eve"}', id="token-wrong-type"),
    pytest.param('{"type": "join", "token": "t", "name": ["Eve"]}', id="name-wrong-type"),
    pytest.param('{"type": "join", "token": "t", "name": "   "}', id="name-blank"),
    pytest.param('{"type": "join", "token": "t", "name": "' + "x" * 33 + '"}', id="name-too-long"),
    pytest.param('{"type": "join", "token": "t", "name": "Eve\\u202e"}', id="name-bidi-override"),
    pytest.param('{"type": "join", "token": "t", "name": "Eve\\u0007"}', id="name-control"),
    pytest.param('{"type": "join", "token": "\\ud800", "name": "Eve"}', id="token-lone-surrogate"),
    pytest.param('{"type": "signal", "to": "x", "data": {}}', id="signal-before-join"),
    pytest.param('{"type": "join", "token": "t", "name": "' + "a" * 70_000 + '"}', id="oversize"),
    pytest.param("[" * 50_000 + "]" * 50_000, id="deep-nesting"),
]


@pytest.mark.parametrize("first", BAD_FIRST_MESSAGES)
async def test_bad_first_message(server, bystanders, first) -> None:  # type: ignore[no-untyped-def]
    room = create_room(server.http)
    error, code = await refused(server, room["room"], first)
    assert error["code"] == "bad_message" and error["message"]
    assert code == 4400
    await assert_still_serving(bystanders)


BAD_AFTER_JOIN = [
    pytest.param(lambda token: join(token), id="join-twice"),
    pytest.param(lambda token: '{"type": "signal", "to": "ok", "data": "text"}', id="data-not-object"),
    pytest.param(lambda token: '{"type": "signal", "to": "../x", "data": {}}', id="to-not-an-id"),
    pytest.param(lambda token: "{}", id="no-type"),
    pytest.param(lambda token: '{"type": "signal", "to": "ok", "data": {"sdp": "\\ud800"}}', id="lone-surrogate"),
    pytest.param(lambda token: '{"type": "signal", "to": "ok", "data": {"n": 1e400}}', id="number-overflow"),
]


@pytest.mark.parametrize("then", BAD_AFTER_JOIN)
async def test_bad_message_after_join(server, bystanders, then) -> None:  # type: ignore[no-untyped-def]
    room = create_room(server.http)
    error, code = await refused(server, room["room"], join(room["token"]), then(room["token"]))
    assert (error["code"], code) == ("bad_message", 4400)
    await assert_still_serving(bystanders)


@pytest.mark.parametrize("data", ['{"sdp": "\\ud800"}', '{"n": -1e400}'], ids=["lone-surrogate", "number-overflow"])
async def test_an_undeliverable_signal_is_refused_and_its_target_keeps_working(server, data) -> None:  # type: ignore[no-untyped-def]
    room = create_room(server.http)
    ana = await Peer.join(server.ws, room["room"], room["token"], "Ana")
    eve = await Peer.join(server.ws, room["room"], room["token"], "Eve")
    await ana.receive_until("peer-joined")
    await eve.send(f'{{"type": "signal", "to": "{ana.id}", "data": {data}}}')
    assert (await eve.receive_until("error"))["code"] == "bad_message"
    assert await eve.closed_with() == 4400
    assert await ana.receive_until("peer-left") == {"type": "peer-left", "peer": eve.id}
    bo = await Peer.join(server.ws, room["room"], room["token"], "Bo")
    await bo.send({"type": "signal", "to": ana.id, "data": {"sdp": "offer"}})
    assert (await ana.receive_until("signal"))["data"] == {"sdp": "offer"}


def _frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (mask 0, so the payload goes as it is)."""
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    else:
        length = bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    return bytes([0x80 | opcode]) + length + b"\0\0\0\0" + payload


def join_and_drop(port: int, room: str, token: str) -> None:
    """A client that sends its join and closes in the same breath: one TCP write, then gone."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"GET /ws/{room} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert b" 101 " in sock.recv(4096)
        sock.sendall(_frame(0x1, join(token).encode()) + _frame(0x8, (1000).to_bytes(2, "big")))


async def test_a_join_that_drops_at_once_gives_its_seat_back(server) -> None:  # type: ignore[no-untyped-def]
    room = create_room(server.http)
    for _ in range(6):
        join_and_drop(server.port, room["room"], room["token"])
    auth = {"Authorization": f"Bearer {room['token']}"}
    url = f"{server.http}/api/rooms/{room['room']}"
    assert wait_until(lambda: httpx.get(url, headers=auth).json()["occupancy"] == 0, 5)
    peer = await Peer.join(server.ws, room["room"], room["token"], "Late")
    assert peer.welcome is not None and peer.welcome["peers"] == []


async def test_signal_to_unknown_or_foreign_peer_is_an_error_without_close(server, bystanders) -> None:  # type: ignore[no-untyped-def]
    ana, _ = bystanders
    room = create_room(server.http)
    eve = await Peer.join(server.ws, room["room"], room["token"], "Eve")
    for target in ("NoSuchPeer", ana.id):
        reply = await eve.request({"type": "signal", "to": target, "data": {"x": 1}})
        assert reply["type"] == "error" and reply["code"] == "bad_message" and target in reply["message"]
    await assert_still_serving(bystanders)
    with pytest.raises(asyncio.TimeoutError):
        await ana.receive(timeout=0.3)
    assert eve.connection.close_code is None


@pytest.mark.parametrize("kind", ["tampered", "expired", "other-room", "garbage", "forged-secret"])
async def test_bad_token(server, bystanders, kind) -> None:  # type: ignore[no-untyped-def]
    room = create_room(server.http)
    other = create_room(server.http)
    token = {
        "tampered": room["token"][:-2] + ("AA" if not room["token"].endswith("AA") else "BB"),
        "expired": Invites(SECRET, 60).issue(room["room"], now=time.time() - 120)[0],
        "other-room": other["token"],
        "garbage": "not-a-token",
        "forged-secret": Invites("guessed", 3600).issue(room["room"])[0],
    }[kind]
    error, code = await refused(server, room["room"], join(token))
    assert (error["code"], code) == ("invalid_token", 4401)
    if kind == "expired":
        assert "expired" in error["message"]
    await assert_still_serving(bystanders)


async def test_valid_token_for_a_vanished_room_is_no_room(server, bystanders) -> None:  # type: ignore[no-untyped-def]
    token, _ = Invites(SECRET, 3600).issue("NeverCreated1")
    error, code = await refused(server, "NeverCreated1", join(token))
    assert (error["code"], code) == ("no_room", 4404)
    await assert_still_serving(bystanders)


async def test_flood_is_rate_limited(server, bystanders) -> None:  # type: ignore[no-untyped-def]
    room = create_room(server.http)
    flooder = await Peer.join(server.ws, room["room"], room["token"], "Flood")
    target = await Peer.join(server.ws, room["room"], room["token"], "Target")
    message = json.dumps({"type": "signal", "to": target.id, "data": {"spam": True}})
    for _ in range(1000):
        await flooder.send(message)
    error = await flooder.receive_until("error", timeout=10)
    assert error["code"] == "rate_limited"
    assert await flooder.closed_with(10) == 4429
    await assert_still_serving(bystanders)


def test_room_creation_is_limited_per_address(start_server) -> None:
    server = start_server(CLOV_ROOM_CREATE_BURST="3", CLOV_ROOM_CREATE_RATE="0.1")
    statuses = [httpx.post(server.http + "/api/rooms").status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    limited = httpx.post(server.http + "/api/rooms")
    assert limited.json()["error"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
